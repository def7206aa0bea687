"""inventory: a small stock-keeping service (plimsoll's sample project)."""

from __future__ import annotations

from inventory.models import Item, Stock, StockError

__all__ = ["Item", "Stock", "StockError"]
__version__ = "0.3.0"
