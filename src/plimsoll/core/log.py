"""Structured logging on stdlib ``logging``: fields travel in ``extra=`` and render as text or JSON."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}

LOGGER_NAME = "plimsoll"


def get_logger(name: str) -> logging.Logger:
    """Return a logger under the ``plimsoll`` hierarchy."""
    if name == LOGGER_NAME or name.startswith(LOGGER_NAME + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Return the structured fields a caller attached with ``extra=``."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """Renders each record as one JSON line with its structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as a JSON object on one line."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(extra_fields(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    """Renders a record as ``level: message``, and its fields as ``[key=value ...]`` when
    ``fields`` is set (``--debug``): a warning on the terminal stays one readable line; the
    fields are for the JSON log (``--log-format json``)."""

    def __init__(self, fields: bool = True) -> None:
        super().__init__()
        self.fields = fields

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as one readable line."""
        shown = extra_fields(record) if self.fields else {}
        fields = " ".join(f"{k}={v}" for k, v in shown.items())
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        if fields:
            line = f"{line} [{fields}]"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure(level: str = "warning", fmt: str = "text") -> None:
    """Send plimsoll's log events to stderr at ``level`` in ``fmt`` (``text`` or ``json``)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    debug = level.lower() == "debug"
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(fields=debug))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
