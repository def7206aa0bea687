"""One ``plimsoll db build --apply`` at a time into each target database.

Two builds of the same database at once would drop each other's database mid-way (the second
one's ``DROP DATABASE ... WITH (FORCE)`` ends the first one's session) or collide creating it.
A session-level advisory lock held across creating and filling the database serialises them;
a build that has to wait says so, and gives up (CannotRunError, exit 3) after
``db.migrator_lock_timeout_seconds``.

The lock's key is derived from the target database's name, so builds into different
databases run side by side. PostgreSQL's advisory locks belong to the database the session
is connected to, and the lock is taken through the environment's own database (the one its
URL names; the target does not exist yet): builds serialise when they connect through the
same database. Two environments naming different databases of one server that build into
the same target are not serialised by it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from plimsoll.core.errors import CannotRunError
from plimsoll.db.advisory import take_advisory_lock
from plimsoll.db.builder import BUILD_SUFFIX
from plimsoll.db.connection import APPLICATION_NAME, connect_url


def build_lock_key(target: str) -> int:
    """pg_advisory_lock's key for builds into ``target``: the first 8 bytes of
    sha256("plimsoll db build:" + target), as a signed bigint."""
    digest = hashlib.sha256(f"plimsoll db build:{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def build_lock(
    server_conninfo: str,
    target: str | None,
    on_wait: Callable[[], None],
    *,
    timeout_seconds: float = 60.0,
) -> Iterator[None]:
    """Hold the lock for builds into ``target`` for the block (None: the default
    ``<dbname>_build`` of the database ``server_conninfo`` names).

    ``on_wait`` is called once if another build holds it; after ``timeout_seconds`` of
    waiting a CannotRunError (exit 3) says so. An unreachable server raises CannotRunError
    too, as the build itself would.
    """
    with connect_url(
        server_conninfo, autocommit=True, application_name=f"{APPLICATION_NAME}-build-lock"
    ) as conn:
        name = target if target is not None else f"{conn.info.dbname}{BUILD_SUFFIX}"
        key = build_lock_key(name)

        def timed_out(waited: float) -> CannotRunError:
            return CannotRunError(
                f"another plimsoll db build into database {name!r} has held the build "
                f"lock for {waited:.0f}s (db.migrator_lock_timeout_seconds = "
                f"{timeout_seconds:g}); try again when it has finished"
            )

        take_advisory_lock(conn, key, timeout_seconds, on_wait=on_wait, timed_out=timed_out)
        # Closing the connection releases the lock, whatever happens in the block.
        yield
