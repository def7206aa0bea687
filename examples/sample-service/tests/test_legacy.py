from decimal import Decimal

from inventory.legacy import load_csv


def test_load_csv(tmp_path) -> None:
    data = tmp_path / "stock.csv"
    data.write_text("W-1,widget,2.50,3\n\nA-1,anchor,10,1\n")
    stock = load_csv(str(data))
    assert stock.quantity("W-1") == 3
    assert stock.value() == Decimal("17.50")
