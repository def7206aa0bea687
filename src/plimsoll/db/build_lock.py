"""One ``plimsoll db build --apply`` at a time on a server.

Two builds of the same database at once would drop each other's database mid-way (the second
one's ``DROP DATABASE ... WITH (FORCE)`` ends the first one's session) or collide creating it.
A session-level advisory lock held across creating and filling the database serialises them;
a build that has to wait says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from plimsoll.db.connection import APPLICATION_NAME, connect_url

# pg_advisory_lock's key: the first 8 bytes of sha256("plimsoll db build"), a signed bigint.
BUILD_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"plimsoll db build").digest()[:8], "big", signed=True
)


@contextmanager
def build_lock(server_conninfo: str, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the server's build lock for the block; ``on_wait`` is called once if it is busy.

    An unreachable server raises CannotRunError (exit 3), as the build itself would.
    """
    with connect_url(
        server_conninfo, autocommit=True, application_name=f"{APPLICATION_NAME}-build-lock"
    ) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK_KEY,)).fetchone()
        if not (row and row[0]):
            on_wait()
            conn.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK_KEY,))
        # Closing the connection releases the lock, whatever happens in the block.
        yield
