"""Shared fixtures: a real PostgreSQL, temporary git repositories, local HTTP and SMTP servers.

Each lives in its own module under ``tests/support`` and is registered here so every test
directory (and every later part) can use it.
"""

from __future__ import annotations

import os

pytest_plugins = [
    "tests.support.gitrepo",
    "tests.support.servers",
    "tests.support.postgres",
]

# A collection outside CI starts a warm pylint server that stays for minutes: not from every
# test's throwaway project (tests/code/collectors/test_pylint_warm.py turns it back on).
os.environ["PLIMSOLL_PYLINT_SERVER"] = "0"
