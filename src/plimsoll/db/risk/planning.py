"""The statements of a run, profiled in the order they run against the database as it will be.

:func:`qualify_run` applies the run's own ``SET search_path`` to the names of its statements
(``paths``); :func:`relation_names` lists what the live facts must describe; :func:`plan_run`
profiles each statement against those facts as the statements before it change them
(``run_state``), adds what it reaches through dependencies and what will make it fail
(``cascade``), and notes the timeouts in force for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from plimsoll.db.risk.cascade import reach
from plimsoll.db.risk.facts import Facts, zero_offset_zones
from plimsoll.db.risk.lock_profile import profile
from plimsoll.db.risk.operations import Knowledge, StatementProfile
from plimsoll.db.risk.paths import Qualifier, Schemas, names_and_schemas, needs_schemas
from plimsoll.db.risk.run_state import RunState, zones_set
from plimsoll.db.sqljson import Node, function_name, walk

#: A migration's statements: (node type, parse tree, where it is: ``file:line``).
Script = list[tuple[str, Node, str]]


@dataclass(frozen=True)
class Qualified:
    """One statement with its names qualified, and the ``search_path`` it runs under."""

    kind: str
    node: Node
    search_path: str | None
    where: str = ""


@dataclass(frozen=True)
class Planned:
    """One statement profiled in its place in the run, with the timeouts in force for it."""

    profile: StatementProfile
    search_path: str | None
    lock_timeout: float | None
    statement_timeout: float | None


def qualify_run(
    conn: psycopg.Connection[Any], scripts: Sequence[Script | None]
) -> list[list[Qualified] | None]:
    """The scripts (None: a Python migration) with their own ``search_path`` applied."""
    every = [(kind, node) for script in scripts if script for kind, node, _ in script]
    schemas = Schemas()
    if needs_schemas(every):
        from plimsoll.db.risk import facts_sql

        names, wanted = names_and_schemas(every)
        row = conn.execute(facts_sql.SCHEMAS, {"names": names, "schemas": wanted}).fetchone()
        holding: dict[str, set[str]] = {}
        for relname, schema in (row[0] if row else None) or []:
            holding.setdefault(str(relname), set()).add(str(schema))
        schemas = Schemas(
            holding={name: frozenset(found) for name, found in holding.items()},
            existing=frozenset((row[1] if row else None) or []),
            user=str(row[2]) if row else "",
        )
    qualifier = Qualifier(schemas)
    out: list[list[Qualified] | None] = []
    for script in scripts:
        if script is None:
            out.append(None)
            continue
        statements = []
        for kind, node, where in script:
            path = qualifier.text()
            tree = qualifier.statement(kind, node)
            statements.append(Qualified(kind, tree, path, where))
        qualifier.end_migration()
        out.append(statements)
    return out


def relation_names(runs: Sequence[Sequence[Qualified] | None]) -> tuple[list[str], list[str]]:
    """The relations the statements name, and the functions whose volatility matters."""
    names: list[str] = []
    functions: list[str] = []
    blank = Knowledge()
    for statements in runs:
        for statement in statements or ():
            found = profile(statement.kind, statement.node, blank)
            names.extend(lock.table for lock in found.locks)
            names.extend(found.creates)
            for work in found.work:
                names.extend(n for n in (work.table, work.referenced) if n)
            if statement.kind == "AlterTableStmt":
                functions.extend(
                    function_name(node) for kind, node in walk(statement.node) if kind == "FuncCall"
                )
    return list(dict.fromkeys(names)), list(dict.fromkeys(functions))


def plan_run(
    conn: psycopg.Connection[Any],
    runs: Sequence[Sequence[Qualified] | None],
    facts: Facts,
    timeouts: Mapping[str, float | None],
) -> list[list[Planned]]:
    """Each statement's profile in run order (an empty list for a Python migration)."""
    every = [(s.kind, s.node) for statements in runs for s in statements or ()]
    zones = zones_set(every)
    state = RunState(
        facts.knowledge(),
        settings=timeouts,
        zones=zero_offset_zones(conn, zones) if zones else {},
    )
    out: list[list[Planned]] = []
    for statements in runs:
        if statements is None:
            state.blind = True  # a Python migration: what it does is not known
            out.append([])
            continue
        planned = []
        for statement in statements:
            knowledge = state.knowledge()
            found = reach(
                statement.kind, statement.node, profile(statement.kind, statement.node, knowledge),
                knowledge,
            )  # fmt: skip
            missing = state.failure(statement.kind, statement.node, found)
            if missing:
                found = replace(found, fails=missing)
            planned.append(
                Planned(
                    found,
                    statement.search_path,
                    state.timeout("lock_timeout"),
                    state.timeout("statement_timeout"),
                )
            )
            if not found.fails:  # a statement that fails changes nothing
                state.apply(statement.kind, statement.node, found, statement.where)
        state.end_migration()
        out.append(planned)
    return out
