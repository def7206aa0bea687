"""Allows ``python -m plimsoll``."""

from __future__ import annotations

from plimsoll.cli.main import run

if __name__ == "__main__":
    run()
