"""Shared fixtures: a real PostgreSQL, temporary git repositories, local HTTP and SMTP servers.

Each lives in its own module under ``tests/support`` and is registered here so every test
directory (and every later part) can use it.
"""

from __future__ import annotations

pytest_plugins = [
    "tests.support.gitrepo",
    "tests.support.servers",
    "tests.support.postgres",
]
