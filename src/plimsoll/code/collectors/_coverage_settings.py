"""Prints, as JSON, the coverage.py settings that select what a ``coverage run`` here measures.

Usage: ``python -m plimsoll.code.collectors._coverage_settings`` in the project's folder.
Coverage.py reads its configuration itself (``COVERAGE_RCFILE``, else the first of
``.coveragerc``, ``.coveragerc.toml``, ``setup.cfg``, ``tox.ini`` and ``pyproject.toml``
holding coverage settings), so the answer is the one ``coverage run`` would act on.
"""

from __future__ import annotations

import json
import sys

# `coverage run --source` replaces or widens each of these (`include` is ignored with it).
SELECTING = ("run:source", "run:source_pkgs", "run:source_dirs", "run:include")


def main() -> int:
    """Print the selecting settings the project sets, as ``{option: value}``."""
    import coverage

    configured = coverage.Coverage()
    found = {}
    for option in SELECTING:
        try:
            value = configured.get_option(option)
        except Exception:  # noqa: BLE001 - an option this coverage.py does not know is unset
            continue
        if value:
            found[option] = value
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
