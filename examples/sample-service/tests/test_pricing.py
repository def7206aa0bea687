from decimal import Decimal

import pytest

from inventory.pricing import quote, shipping


def test_wholesale_winter_volume() -> None:
    assert quote(Decimal("10"), 100, "wholesale", "winter") == Decimal("750.00")


def test_retail_loyal_member_with_coupon() -> None:
    assert quote(Decimal("10"), 1, "retail", "spring", coupon="SAVE10", member_years=6) == Decimal(
        "8.00"
    )


def test_unknown_customer() -> None:
    with pytest.raises(ValueError):
        quote(Decimal("1"), 1, "pirate", "winter")


def test_shipping() -> None:
    assert shipping(1, "DE") == Decimal("4.90")
    assert shipping(30, "FR", express=True) == Decimal("45.00")
