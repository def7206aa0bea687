"""Items and the stock that holds them.

This is the clean module of the sample: typed, documented and fully tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal


class StockError(ValueError):
    """An operation would leave the stock in an impossible state."""


@dataclass(frozen=True)
class Item:
    """A kind of thing kept in stock.

    Attributes:
        sku: The stock-keeping unit, unique per item.
        name: A human-readable name.
        unit_price: The price of one unit.
    """

    sku: str
    name: str
    unit_price: Decimal

    def __post_init__(self) -> None:
        """Reject an empty SKU or a negative price."""
        if not self.sku:
            raise StockError("an item needs a SKU")
        if self.unit_price < 0:
            raise StockError(f"{self.sku}: the price cannot be negative")


@dataclass
class Stock:
    """Quantities on hand, by SKU."""

    items: dict[str, Item] = field(default_factory=dict)
    quantities: dict[str, int] = field(default_factory=dict)

    def add(self, item: Item, quantity: int = 1) -> int:
        """Receive ``quantity`` units of ``item`` and return the new quantity on hand."""
        if quantity <= 0:
            raise StockError("the quantity received must be positive")
        self.items[item.sku] = item
        self.quantities[item.sku] = self.quantities.get(item.sku, 0) + quantity
        return self.quantities[item.sku]

    def remove(self, sku: str, quantity: int = 1) -> int:
        """Ship ``quantity`` units of ``sku`` and return what is left."""
        on_hand = self.quantities.get(sku, 0)
        if quantity <= 0:
            raise StockError("the quantity shipped must be positive")
        if quantity > on_hand:
            raise StockError(f"{sku}: only {on_hand} on hand, cannot ship {quantity}")
        self.quantities[sku] = on_hand - quantity
        return self.quantities[sku]

    def quantity(self, sku: str) -> int:
        """The quantity on hand of ``sku`` (0 when unknown)."""
        return self.quantities.get(sku, 0)

    def value(self) -> Decimal:
        """The total value of the stock at unit prices."""
        return sum(
            (self.items[sku].unit_price * qty for sku, qty in self.quantities.items()),
            start=Decimal("0"),
        )

    def __iter__(self) -> Iterator[tuple[Item, int]]:
        """Each item with its quantity, in SKU order."""
        for sku in sorted(self.quantities):
            yield self.items[sku], self.quantities[sku]
