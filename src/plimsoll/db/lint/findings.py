"""A lint finding: one rule's violation placed at a file, line and column (or a live object)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plimsoll.db.lint.rule import Severity

SYNTAX_ERROR = "syntax-error"
# The engine's finding for a file that is not UTF-8: not read, so not linted (the others are).
ENCODING_ERROR = "encoding-error"
# The engine's finding for a psql meta-command line (``\\echo``, ``\\i``): not SQL, so
# not linted; a note when plimsoll skips it, an error when its build and migrator refuse it.
PSQL_META_COMMAND = "psql-meta-command"
# The findings the engine makes itself, which --select and --ignore take like rule ids.
ENGINE_FINDINGS = (SYNTAX_ERROR, ENCODING_ERROR, PSQL_META_COMMAND)


@dataclass(frozen=True)
class Finding:
    """One violation as reported: where, which rule, how serious, what is wrong, the remedy.

    ``file`` is None for an object of a live database (``object`` then says which); ``line``
    and ``column`` are 1-based. ``libraries`` are the enabled libraries the rule came from.
    """

    rule: str
    severity: Severity
    message: str
    help: str
    file: str | None = None
    line: int = 0
    column: int = 0
    object: str | None = None
    libraries: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``file:line:column``, or the object's key for a live database."""
        if self.file is None:
            return self.object or "<database>"
        return f"{self.file}:{self.line}:{self.column}"

    def sort_key(self, file_order: dict[str, int]) -> tuple[Any, ...]:
        """Files in the order they were given, then line, column, object and rule (findings
        without a file, from a live database, last and by object)."""
        return (
            file_order.get(self.file or "", len(file_order)),
            self.line,
            self.column,
            self.object or "",
            self.rule,
        )

    def as_dict(self) -> dict[str, Any]:
        """The finding as plain data (``--format json``): ``line`` and ``column`` are null
        with ``file`` (an object of a live database is at no line)."""
        placed = self.file is not None
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line if placed else None,
            "column": self.column if placed else None,
            "object": self.object,
            "message": self.message,
            "help": self.help,
            "libraries": list(self.libraries),
        }
