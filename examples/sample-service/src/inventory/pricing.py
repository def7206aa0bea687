"""Price rules: discounts by customer kind, season, volume and coupon.

Deliberately written as one long function with deeply nested branches: the
complexity, maintainability and debt collectors all have something to say here.
"""

from __future__ import annotations

from decimal import Decimal


def quote(unit_price: Decimal, quantity: int, customer: str, season: str,
          coupon: str | None = None, member_years: int = 0) -> Decimal:
    """The total price of ``quantity`` units for a customer, with every discount applied."""
    total = unit_price * quantity
    discount = Decimal("0")
    if customer == "wholesale":
        if quantity >= 100:
            if season == "winter":
                discount = Decimal("0.25")
            elif season == "summer":
                if quantity >= 500:
                    discount = Decimal("0.30")
                else:
                    discount = Decimal("0.20")
            else:
                discount = Decimal("0.15")
        elif quantity >= 50:
            discount = Decimal("0.10")
        else:
            discount = Decimal("0.05")
    elif customer == "retail":
        if member_years > 0:
            if member_years >= 5:
                if season == "winter":
                    discount = Decimal("0.12")
                else:
                    discount = Decimal("0.10")
            elif member_years >= 2:
                discount = Decimal("0.07")
            else:
                discount = Decimal("0.03")
        else:
            if quantity >= 10:
                discount = Decimal("0.02")
    elif customer == "staff":
        discount = Decimal("0.40")
    else:
        raise ValueError(f"unknown customer kind: {customer}")
    if coupon:
        if coupon.startswith("SAVE"):
            try:
                extra = Decimal(coupon[4:]) / 100
            except ArithmeticError:
                extra = Decimal("0")
            if extra > Decimal("0.5"):
                extra = Decimal("0.5")
            discount = discount + extra
        elif coupon == "FREESHIP":
            pass
        else:
            for ch in coupon:
                if not ch.isalnum():
                    raise ValueError("a coupon is letters and digits")
    if discount > Decimal("0.6"):
        discount = Decimal("0.6")
    return (total * (1 - discount)).quantize(Decimal("0.01"))


def shipping(weight_kg: float, country: str, express: bool = False) -> Decimal:
    """The shipping cost of a parcel."""
    base = Decimal("4.90") if country == "DE" else Decimal("12.50")
    if weight_kg > 20:
        base += Decimal("10")
    elif weight_kg > 5:
        base += Decimal("3.50")
    if express:
        base *= 2
    return base
