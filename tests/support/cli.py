"""Running the real ``plimsoll`` command in a subprocess, as a user or a CI job would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# No colour and a wide terminal, so assertions on text do not depend on the machine; CI set,
# so progress bars stay off.
ENV = {**os.environ, "CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
# ``python -m plimsoll`` with the arguments that follow.
COMMAND = [sys.executable, "-m", "plimsoll"]


def plimsoll(
    cwd: Path, *args: str, check: int | None = 0, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``plimsoll ARGS`` in ``cwd``; check its exit code, and that no traceback leaked."""
    done = subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=ENV,
    )
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    if "--debug" not in args:
        assert "Traceback" not in done.stderr, done.stderr
    return done
