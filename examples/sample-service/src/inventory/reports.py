"""Reports on the stock."""

from __future__ import annotations

from decimal import Decimal

from inventory.models import Stock


def low_stock(stock: Stock, threshold: int = 5) -> list[str]:
    return [item.sku for item, qty in stock if qty < threshold]


def value_by_item(stock: Stock) -> dict[str, Decimal]:
    return {item.sku: item.unit_price * qty for item, qty in stock}


class TextReport:
    def __init__(self, stock: Stock, title: str = "Stock") -> None:
        self.stock = stock
        self.title = title

    def lines(self) -> list[str]:
        out = [self.title, "=" * len(self.title)]
        for item, qty in self.stock:
            out.append(f"{item.sku:<10} {item.name:<24} {qty:>6} {item.unit_price:>10}")
        out.append(f"{'total value':<42} {self.stock.value():>10}")
        return out

    def render(self) -> str:
        return "\n".join(self.lines()) + "\n"
