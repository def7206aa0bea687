"""What every CLI test shares."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _logging_left_as_it_was() -> Iterator[None]:
    # A CliRunner invocation configures plimsoll's logger with a handler on CliRunner's
    # stderr, closed once the invocation ends: later tests of this process must not log
    # through it (a "Logging error", and records seen twice by caplog).
    logger = logging.getLogger("plimsoll")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:] = saved[0]
    logger.propagate, logger.level = saved[1], saved[2]
