from decimal import Decimal

import pytest

from inventory.models import Item, Stock, StockError


def widget() -> Item:
    return Item("W-1", "widget", Decimal("2.50"))


def test_add_and_remove() -> None:
    stock = Stock()
    assert stock.add(widget(), 10) == 10
    assert stock.remove("W-1", 4) == 6
    assert stock.quantity("W-1") == 6
    assert stock.quantity("nope") == 0


def test_value_and_iteration() -> None:
    stock = Stock()
    stock.add(widget(), 4)
    stock.add(Item("A-1", "anchor", Decimal("10")), 1)
    assert stock.value() == Decimal("20.00")
    assert [item.sku for item, _ in stock] == ["A-1", "W-1"]


@pytest.mark.parametrize("sku, price", [("", Decimal("1")), ("X", Decimal("-1"))])
def test_invalid_items(sku: str, price: Decimal) -> None:
    with pytest.raises(StockError):
        Item(sku, "bad", price)


def test_invalid_quantities() -> None:
    stock = Stock()
    with pytest.raises(StockError):
        stock.add(widget(), 0)
    stock.add(widget(), 1)
    with pytest.raises(StockError):
        stock.remove("W-1", 2)
    with pytest.raises(StockError):
        stock.remove("W-1", 0)
