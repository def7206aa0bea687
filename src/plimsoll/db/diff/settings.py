"""Settings changed in place: storage parameters of tables and views (``WITH (...)``), and a
column's statistics target, storage, compression and identity sequence options.

A column's settings are written after the column exists (``CREATE TABLE`` / ``ADD COLUMN``
cannot say ``STORAGE`` before PostgreSQL 16), except its compression, which ``ADD COLUMN``
carries to the children and partitions it adds the column to, as it carries the column.
What PostgreSQL does to the children of a table when its column's settings change is
mirrored by :func:`plimsoll.db.diff.inheritance.propagate`: ``SET STATISTICS`` and ``SET
STORAGE`` reach them, ``SET COMPRESSION`` does not; so a new column's statistics target is
set on the table ``ONLY`` (a child gets none from its parent's ``ADD COLUMN``). A type
change resets the storage and compression to the new type's defaults: they are set again
after it, and on the way back after the type is changed back.
"""

from __future__ import annotations

from plimsoll.db.catalog import Column, IdentityOptions, Table, quote_ident, quote_literal
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Phase, Step
from plimsoll.db.diff.text import show


def _option(text: str) -> tuple[str, str]:
    """``name=value`` as reloptions print it: the name, and the value."""
    name, _eq, value = text.partition("=")
    return name, value


def options_clause(options: tuple[str, ...]) -> str:
    """`` WITH (name='value', ...)`` for a CREATE statement, or nothing.

    Every value is written as a string literal (as pg_dump writes them): PostgreSQL parses
    numbers and booleans out of a string, and a value such as ``local`` is safe quoted.
    """
    if not options:
        return ""
    written = ", ".join(f"{name}={quote_literal(value)}" for name, value in map(_option, options))
    return f" WITH ({written})"


def options_actions(old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    """The ``RESET (...)`` and ``SET (...)`` actions turning storage parameters ``old`` into
    ``new`` (empty when equal)."""
    before, after = dict(map(_option, old)), dict(map(_option, new))
    gone = [name for name in before if name not in after]
    changed = [f"{n}={quote_literal(v)}" for n, v in after.items() if before.get(n) != v]
    out = []
    if gone:
        out.append(f"RESET ({', '.join(gone)})")
    if changed:
        out.append(f"SET ({', '.join(changed)})")
    return out


def options_step(what: str, old: tuple[str, ...], new: tuple[str, ...], phase: Phase) -> Step:
    """``ALTER <what> SET / RESET (...)`` from ``old`` to ``new``, and back (``what`` is
    ``TABLE public.t``, ``VIEW public.v``...)."""

    def statement(start: tuple[str, ...], end: tuple[str, ...]) -> str:
        return "\n".join(f"ALTER {what} {action};" for action in options_actions(start, end))

    return Step(phase, statement(old, new), statement(new, old))


def describe_options(old: tuple[str, ...], new: tuple[str, ...]) -> str:
    """A change of storage parameters in a change's detail."""
    return f"options {', '.join(old) or 'none'} -> {', '.join(new) or 'none'}"


def _alter(table: Table, action: str, only: bool = False) -> str:
    return f"ALTER TABLE {'ONLY ' if only else ''}{table.sql_name} {action};"


def _storage(column: Column) -> str:
    # A hand-made catalog may not know its type's storage: EXTENDED is most types' (text,
    # bytea, arrays, json...).
    return column.storage or column.type_storage or "EXTENDED"


def column_settings_sql(table: Table, column: Column) -> list[str]:
    """A new column's storage and statistics target, when not the defaults."""
    name = quote_ident(column.name)
    out = []
    if column.storage is not None:
        out.append(_alter(table, f"ALTER COLUMN {name} SET STORAGE {column.storage}"))
    if column.statistics is not None:
        out.append(
            _alter(table, f"ALTER COLUMN {name} SET STATISTICS {column.statistics}", only=True)
        )
    return out


def identity_clause(column: Column) -> str:
    """``GENERATED ... AS IDENTITY``, with the sequence options that are not the defaults."""
    assert column.identity is not None
    clauses = column.identity_options.clauses() if column.identity_options is not None else []
    options = f" ({' '.join(clauses)})" if clauses else ""
    return f"GENERATED {column.identity} AS IDENTITY{options}"


def _identity_set(options: IdentityOptions | None, data_type: str) -> str:
    """Every option of an identity's sequence as ``SET`` actions of ``ALTER COLUMN`` (a
    default one as ``NO MINVALUE``...), so the sequence ends as ``options`` say whatever it
    was."""
    options = options or IdentityOptions()
    parts = [f"SET INCREMENT BY {options.increment}"]
    parts.append(
        "SET NO MINVALUE" if options.minimum is None else f"SET MINVALUE {options.minimum}"
    )
    parts.append(
        "SET NO MAXVALUE" if options.maximum is None else f"SET MAXVALUE {options.maximum}"
    )
    parts.append(f"SET START WITH {options.first(data_type)}")
    parts.append(f"SET CACHE {options.cache}")
    parts.append("SET CYCLE" if options.cycle else "SET NO CYCLE")
    return " ".join(parts)


def describe_identity(options: IdentityOptions | None) -> str:
    """An identity's sequence options in a change's detail (``defaults`` when all are)."""
    clauses = options.clauses() if options is not None else []
    return " ".join(clauses) or "defaults"


def identity_options_step(table: Table, old: Column, new: Column) -> Step:
    """``ALTER COLUMN ... SET <option>...`` from ``old``'s identity options to ``new``'s; a
    narrower range fails when the sequence's current value is outside it."""
    column = f"ALTER COLUMN {quote_ident(new.name)}"
    old_options = old.identity_options or IdentityOptions()
    new_options = new.identity_options or IdentityOptions()
    old_range, new_range = old_options.bounds(new.type), new_options.bounds(new.type)
    return Step(
        Phase.ALTER_COLUMNS,
        _alter(table, f"{column} {_identity_set(new.identity_options, new.type)}"),
        _alter(table, f"{column} {_identity_set(old.identity_options, old.type)}"),
        up_risk=risks.narrow_identity(table.key, new.name, old_range, new_range),
        down_risk=risks.narrow_identity(table.key, new.name, new_range, old_range),
    )


def restore_before_retype(table: Table, old: Column) -> list[Step]:
    """Steps placed before a type change, with nothing to do on the way up: on the way
    back, after the type is changed back (which resets them), they set ``old``'s storage
    and compression again."""
    column = f"ALTER COLUMN {quote_ident(old.name)}"
    out = []
    if old.storage is not None:
        out.append(
            Step(Phase.ALTER_COLUMNS, "", _alter(table, f"{column} SET STORAGE {old.storage}"))
        )
    if old.compression is not None:
        action = f"{column} SET COMPRESSION {old.compression}"
        out.append(Step(Phase.ALTER_COLUMNS, "", _alter(table, action)))
    return out


def settings_steps(
    table: Table, old: Column, new: Column, retyped: bool
) -> tuple[list[Step], list[str]]:
    """The steps from ``old``'s statistics target, storage and compression to ``new``'s,
    placed after a type change when there is one (``retyped``), and their description."""
    column = f"ALTER COLUMN {quote_ident(new.name)}"
    steps: list[Step] = []
    details: list[str] = []
    if old.statistics != new.statistics:
        details.append(f"statistics {show_number(old.statistics)} -> {show_number(new.statistics)}")
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                _alter(table, f"{column} SET STATISTICS {_target(new)}"),
                _alter(table, f"{column} SET STATISTICS {_target(old)}"),
            )
        )
    for setting, before, after, written in (
        ("storage", old.storage, new.storage, (_storage(new), _storage(old))),
        ("compression", old.compression, new.compression,
         (new.compression or "default", old.compression or "default")),
    ):  # fmt: skip
        if before != after:
            details.append(f"{setting} {show(before)} -> {show(after)}")
        clause = f"{column} SET {setting.upper()}"
        if retyped:
            # The type change reset it: set on the way up only (restore_before_retype does
            # the way back).
            if after is not None:
                steps.append(Step(Phase.ALTER_COLUMNS, _alter(table, f"{clause} {after}"), ""))
        elif before != after:
            up, down = written
            steps.append(
                Step(
                    Phase.ALTER_COLUMNS,
                    _alter(table, f"{clause} {up}"),
                    _alter(table, f"{clause} {down}"),
                )
            )
    return steps, details


def _target(column: Column) -> int:
    # -1 puts the default statistics target back.
    return -1 if column.statistics is None else column.statistics


def show_number(value: int | None) -> str:
    """A number in a change's detail (``default`` for None)."""
    return "default" if value is None else str(value)
