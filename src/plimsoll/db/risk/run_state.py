"""What earlier statements of a run change for later ones, read in the order they run.

The live facts describe the database before the run. Each statement the assessment reads is
then applied to a :class:`RunState`, so the next one is profiled against the database as it
will be by then:

* columns added, dropped, retyped, made NOT NULL; constraints added (valid or ``NOT VALID``),
  validated, dropped: ``ADD CONSTRAINT ... CHECK (c IS NOT NULL) NOT VALID; VALIDATE ...;
  ALTER COLUMN c SET NOT NULL`` skips the scan, as PostgreSQL 12+ does;
* relations created, dropped or renamed;
* ``SET TimeZone`` (does timestamp <-> timestamptz rewrite?), ``SET lock_timeout`` and
  ``SET statement_timeout`` (how long a lock may be waited for, when the migrator cancels),
  each until the run ends, or with ``LOCAL`` until its migration commits.

It also says when a statement will fail because what it names is missing (a table, a column)
or already there (``CREATE TABLE`` of an existing table, ``ADD COLUMN`` of an existing
column). After a statement whose effects cannot be read (a ``DO`` block, a Python migration)
it claims nothing is missing any more: that statement may have created it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from plimsoll.db.risk.operations import ColumnInfo, ConstraintInfo, Knowledge, StatementProfile
from plimsoll.db.risk.paths import RELATION_OBJECTS
from plimsoll.db.sqljson import Node, constant, strings, type_name, unwrap

T = TypeVar("T")

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def interval_seconds(value: str | None) -> float | None:
    """A PostgreSQL time setting (``5s``, ``1min``, ``500`` = ms) in seconds; None for 0 or bad."""
    if not value:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", value.lower())
    if match is None or (match[2] and match[2] not in _UNITS):
        return None
    seconds = float(match[1]) * _UNITS.get(match[2] or "ms", 1.0)
    return seconds or None


def canonical(name: str) -> str:
    """One spelling per relation under the default ``search_path``: ``public.x`` is ``x``."""
    return name.removeprefix("public.") if name.count(".") == 1 else name


# Statement kinds that fail on a relation that does not exist (unless IF EXISTS).
_NEEDS_RELATION = frozenset(
    {
        "AlterTableStmt",
        "IndexStmt",
        "DropStmt",
        "TruncateStmt",
        "LockStmt",
        "CreateTrigStmt",
        "RenameStmt",
        "CommentStmt",
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "MergeStmt",
        "CreateStmt",
        "ClusterStmt",
        "RefreshMatViewStmt",
        "ReindexStmt",
        "AlterObjectSchemaStmt",
        "CreatePolicyStmt",
        "AlterPolicyStmt",
        "RuleStmt",
        "CreateStatsStmt",
    }
)
# ALTER TABLE subcommands on an existing column, by its name.
_ON_COLUMN = frozenset(
    {
        "AT_AlterColumnType",
        "AT_SetNotNull",
        "AT_DropNotNull",
        "AT_ColumnDefault",
        "AT_SetStatistics",
        "AT_SetStorage",
        "AT_SetCompression",
        "AT_SetOptions",
        "AT_ResetOptions",
        "AT_AddIdentity",
        "AT_SetIdentity",
        "AT_DropIdentity",
        "AT_DropExpression",
    }
)
_CONSTRAINT_KINDS = {
    "CONSTR_CHECK": "c",
    "CONSTR_FOREIGN": "f",
    "CONSTR_PRIMARY": "p",
    "CONSTR_UNIQUE": "u",
    "CONSTR_EXCLUSION": "x",
}


@dataclass
class _Setting:
    """A setting's value for the run (SET) and for the current migration (SET LOCAL)."""

    base: object
    session: object = None
    session_set: bool = False
    local: object = None
    local_set: bool = False

    @property
    def value(self) -> object:
        if self.local_set:
            return self.local
        return self.session if self.session_set else self.base

    def set(self, value: object, local: bool, default: bool) -> None:
        if local:
            self.local, self.local_set = (self.base if default else value), True
        else:
            self.session, self.session_set = value, not default
            self.local_set = False  # a plain SET also ends a SET LOCAL of the transaction


@dataclass
class RunState:
    """The database as the run will have changed it by the statement being read."""

    base: Knowledge
    settings: Mapping[str, float | None] = field(default_factory=dict)
    zones: Mapping[str, bool] = field(default_factory=dict)
    blind: bool = False
    # Columns of a parent changed: its partitions or children changed too, unnamed.
    columns_blind: bool = False
    created: set[str] = field(default_factory=set)
    dropped: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, ColumnInfo | None]] = field(default_factory=dict)
    constraints: dict[str, dict[str, ConstraintInfo | None]] = field(default_factory=dict)
    _settings: dict[str, _Setting] = field(default_factory=dict)
    _knowledge: Knowledge | None = None

    def __post_init__(self) -> None:
        self._settings = {
            "timezone": _Setting(self.base.timezone_utc),
            "lock_timeout": _Setting(self.settings.get("lock_timeout")),
            "statement_timeout": _Setting(self.settings.get("statement_timeout")),
        }

    # --- what a statement sees -------------------------------------------------------------

    def knowledge(self) -> Knowledge:
        """The live knowledge as changed by the statements read so far."""
        if self._knowledge is None:
            self._knowledge = self._build()
        return self._knowledge

    def timeout(self, name: str) -> float | None:
        """``lock_timeout`` or ``statement_timeout`` in seconds now (None: none)."""
        value = self._settings[name].value
        return value if isinstance(value, float) else None

    def is_new(self, name: str) -> bool:
        """Whether ``name`` was created earlier in the run."""
        return canonical(name) in self.created

    def _build(self) -> Knowledge:
        base = self.base
        columns = {name: dict(cols) for name, cols in base.columns.items()}
        constraints = {name: dict(known) for name, known in base.constraints.items()}
        for name in list(columns):
            key = canonical(name)
            if key in self.created:
                # Re-created in the run: what it holds is not known.
                columns.pop(name, None)
                constraints.pop(name, None)
                continue
            for column, info in self.columns.get(key, {}).items():
                if info is None:
                    columns[name].pop(column, None)
                else:
                    columns[name][column] = info
            for constraint, known in self.constraints.get(key, {}).items():
                if known is None:
                    constraints.get(name, {}).pop(constraint, None)
                else:
                    constraints.setdefault(name, {})[constraint] = known
        zone = self._settings["timezone"].value
        return replace(
            base,
            columns=columns,
            constraints=constraints,
            timezone_utc=zone if isinstance(zone, bool) else None,
        )

    # --- will it fail? -----------------------------------------------------------------------

    def failure(self, kind: str, node: Node, profile: StatementProfile) -> str | None:
        """Why the statement will fail on a missing (or existing) relation or column, or None."""
        if self.blind or not self.base.live:
            return None
        knowledge = self.knowledge()
        if kind in _NEEDS_RELATION and not node.get("missing_ok"):
            for lock in profile.locks:
                missing = self._missing(lock.table, knowledge)
                if missing:
                    return missing
        if kind in ("CreateStmt", "CreateTableAsStmt", "ViewStmt"):
            return self._exists(kind, node, profile, knowledge)
        if kind == "AlterTableStmt" and node.get("objtype", "OBJECT_TABLE") == "OBJECT_TABLE":
            return self._columns(node, knowledge)
        if kind == "RenameStmt" and node.get("renameType") == "OBJECT_COLUMN":
            table = _relation(node)
            column = str(node.get("subname", ""))
            if table is None or node.get("missing_ok") or self.columns_blind:
                return None
            if self._lacks(table, column, knowledge):
                return f'column "{column}" of relation "{table}" does not exist'
        return None

    def _missing(self, name: str, knowledge: Knowledge) -> str | None:
        key = canonical(name)
        if key in self.created:
            return None
        if key in self.dropped:
            return f'relation "{name}" does not exist (dropped at {self.dropped[key]})'
        if name in knowledge.missing:
            return f'relation "{name}" does not exist'
        return None

    def _exists(
        self, kind: str, node: Node, profile: StatementProfile, knowledge: Knowledge
    ) -> str | None:
        if node.get("if_not_exists") or (kind == "ViewStmt" and node.get("replace")):
            return None
        if kind == "CreateTableAsStmt" and (node.get("into") or {}).get("rel") is None:
            return None
        for name in profile.creates:
            key = canonical(name)
            if key in self.dropped or key in self.created:
                continue
            if name in knowledge.columns:  # read from the live catalog: it is there
                return f'relation "{name}" already exists'
        return None

    def _lacks(self, table: str, column: str, knowledge: Knowledge) -> bool:
        """Whether ``table`` is known (live, not re-created) and has no column ``column``."""
        return knowledge.knows(table) and column not in knowledge.columns.get(table, {})

    def _columns(self, node: Node, knowledge: Knowledge) -> str | None:
        table = _relation(node)
        if not table or node.get("missing_ok") or not knowledge.knows(table):
            return None
        if self.columns_blind:
            return None
        present = set(knowledge.columns.get(table, {}))
        for item in node.get("cmds") or ():
            _, cmd = unwrap(item)
            subtype = cmd.get("subtype", "")
            if subtype == "AT_AddColumn":
                _, column = unwrap(cmd.get("def"))
                name = str(column.get("colname", ""))
                if name in present and not cmd.get("missing_ok"):
                    return f'column "{name}" of relation "{table}" already exists'
                present.add(name)
                continue
            name = str(cmd.get("name") or "")
            if not name or (subtype == "AT_DropColumn" and cmd.get("missing_ok")):
                continue
            if subtype in _ON_COLUMN or subtype == "AT_DropColumn":
                if name not in present and not name.isdigit():
                    return f'column "{name}" of relation "{table}" does not exist'
                if subtype == "AT_DropColumn":
                    present.discard(name)
        return None

    # --- what a statement changes ------------------------------------------------------------

    def apply(self, kind: str, node: Node, profile: StatementProfile, where: str) -> None:
        """Record what the statement changes for the statements after it (``where``: file:line)."""
        self._knowledge = None
        if not profile.known or _creates_unnamed(kind, node):
            self.blind = True
        for name in (*profile.creates, *_also_creates(kind, node)):
            key = canonical(name)
            self.created.add(key)
            self.dropped.pop(key, None)
        for lock in profile.locks:
            if lock.dropped:
                self._drop(lock.table, where)
        if kind == "DropStmt":
            self._drop_objects(node, where)
        elif kind == "RenameStmt":
            self._rename(node, where)
        elif kind == "AlterTableStmt" and node.get("objtype", "OBJECT_TABLE") == "OBJECT_TABLE":
            table = _relation(node)
            if table:
                for item in node.get("cmds") or ():
                    self._command(canonical(table), unwrap(item)[1])
        elif kind == "VariableSetStmt":
            self._set(node)

    def end_migration(self) -> None:
        """A migration committed: its ``SET LOCAL`` settings end."""
        self._knowledge = None
        for setting in self._settings.values():
            setting.local_set = False

    def _drop(self, name: str, where: str) -> None:
        key = canonical(name)
        self.created.discard(key)
        self.dropped[key] = where

    def _drop_objects(self, node: Node, where: str) -> None:
        if node.get("removeType") not in RELATION_OBJECTS:
            return
        for item in node.get("objects") or ():
            _, inner = unwrap(item)
            parts = strings(inner.get("items"))
            if parts:
                self._drop(".".join(parts), where)

    def _rename(self, node: Node, where: str) -> None:
        table = _relation(node)
        new = str(node.get("newname") or "")
        if not table or not new:
            return
        what = node.get("renameType")
        if what in _RENAMED_RELATIONS:
            self._drop(table, where)
            schema = table.rsplit(".", 1)[0] + "." if "." in table else ""
            self.created.add(canonical(schema + new))  # its content is not followed
        elif what == "OBJECT_COLUMN":
            key = canonical(table)
            if key in {canonical(p) for p in self.base.parents}:
                self.columns_blind = True
            old = str(node.get("subname") or "")
            info = self.knowledge().column(table, old) or ColumnInfo("unknown")
            changes = self.columns.setdefault(key, {})
            changes[old] = None
            changes[new] = info

    def _command(self, table: str, cmd: Node) -> None:
        subtype = cmd.get("subtype", "")
        if subtype in ("AT_AddColumn", "AT_DropColumn") and table in {
            canonical(p) for p in self.base.parents
        }:
            self.columns_blind = True
        columns = self.columns.setdefault(table, {})
        name = str(cmd.get("name") or "")
        current = self._column(table, name)
        if subtype == "AT_AddColumn":
            _, column = unwrap(cmd.get("def"))
            kinds = {unwrap(c)[1].get("contype") for c in column.get("constraints") or ()}
            columns[str(column.get("colname", ""))] = ColumnInfo(
                type_name(column.get("typeName")),
                not_null=bool(kinds & {"CONSTR_NOTNULL", "CONSTR_PRIMARY"}),
            )
        elif subtype == "AT_DropColumn":
            columns[name] = None
        elif subtype == "AT_AlterColumnType" and current is not None:
            _, definition = unwrap(cmd.get("def"))
            columns[name] = replace(current, type=type_name(definition.get("typeName")))
        elif subtype in ("AT_SetNotNull", "AT_DropNotNull") and current is not None:
            columns[name] = replace(current, not_null=subtype == "AT_SetNotNull")
        elif subtype == "AT_AddConstraint":
            self._add_constraint(table, cmd)
        elif subtype == "AT_ValidateConstraint":
            known = self._constraint(table, name)
            if known is not None:
                self.constraints.setdefault(table, {})[name] = replace(known, validated=True)
        elif subtype == "AT_DropConstraint":
            self.constraints.setdefault(table, {})[name] = None

    def _add_constraint(self, table: str, cmd: Node) -> None:
        _, constraint = unwrap(cmd.get("def"))
        contype = constraint.get("contype", "")
        name = str(constraint.get("conname") or "")
        kind = _CONSTRAINT_KINDS.get(contype)
        if kind is None or not name:
            return
        self.constraints.setdefault(table, {})[name] = ConstraintInfo(
            kind=kind,
            validated=not constraint.get("skip_validation"),
            columns=tuple(strings(constraint.get("keys") or constraint.get("fk_attrs"))),
            not_null=not_null_columns(constraint.get("raw_expr")) if kind == "c" else (),
        )
        if contype == "CONSTR_PRIMARY":
            for key in strings(constraint.get("keys")):
                current = self._column(table, key)
                if current is not None:
                    self.columns.setdefault(table, {})[key] = replace(current, not_null=True)

    def _column(self, table: str, name: str) -> ColumnInfo | None:
        return _current(self.columns, self.base.columns, table, name)

    def _constraint(self, table: str, name: str) -> ConstraintInfo | None:
        return _current(self.constraints, self.base.constraints, table, name)

    def _set(self, node: Node) -> None:
        name = str(node.get("name") or "").lower()
        setting = self._settings.get(name)
        if setting is None:
            return
        local = bool(node.get("is_local"))
        default = node.get("kind") != "VAR_SET_VALUE"
        value = _one_argument(node)
        if name == "timezone":
            setting.set(self._zone(value), local, default)
        else:
            text = None if value is None else str(value)
            setting.set(interval_seconds(text), local, default)
        self._knowledge = None

    def _zone(self, value: object) -> bool | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value == 0  # SET TIME ZONE 0: hours east of UTC
        if isinstance(value, str):
            return self.zones.get(value)
        return None  # an interval, or not understood: not known


_RENAMED_RELATIONS = frozenset(
    {
        "OBJECT_TABLE",
        "OBJECT_VIEW",
        "OBJECT_MATVIEW",
        "OBJECT_FOREIGN_TABLE",
        "OBJECT_INDEX",
        "OBJECT_SEQUENCE",
    }
)


def _also_creates(kind: str, node: Node) -> list[str]:
    """Relations a statement creates that its lock profile does not list (an index, a sequence)."""
    if kind == "IndexStmt" and node.get("idxname"):
        schema = (node.get("relation") or {}).get("schemaname")
        return [f"{schema}.{node['idxname']}" if schema else str(node["idxname"])]
    if kind == "CreateSeqStmt":
        sequence = node.get("sequence") or {}
        if sequence.get("relname"):
            schema = sequence.get("schemaname")
            return [f"{schema}.{sequence['relname']}" if schema else str(sequence["relname"])]
    return []


def _creates_unnamed(kind: str, node: Node) -> bool:
    """Whether a statement creates relations it does not name one by one."""
    return kind == "ImportForeignSchemaStmt" or (
        kind == "CreateSchemaStmt" and bool(node.get("schemaElts"))
    )


def zones_set(statements: list[tuple[str, Node]]) -> list[str]:
    """The time zone names ``SET TimeZone`` statements name (looked up on the server)."""
    out: list[str] = []
    for kind, node in statements:
        if kind == "VariableSetStmt" and str(node.get("name") or "").lower() == "timezone":
            value = _one_argument(node)
            if isinstance(value, str):
                out.append(value)
    return list(dict.fromkeys(out))


def _one_argument(node: Node) -> object:
    """The constant a ``SET name = value`` sets (None: several values, or not a constant)."""
    args = list(node.get("args") or ())
    return constant(args[0]) if len(args) == 1 else None


def not_null_columns(expression: object) -> tuple[str, ...]:
    """The columns a CHECK expression proves NOT NULL, as PostgreSQL 12+ proves them
    (``c IS NOT NULL``, ``NOT (c IS NULL)``, ANDed): the lint's answer, shared."""
    from plimsoll.db.lint.carried import not_null_columns as proven

    return tuple(proven(expression))


def _relation(node: Node) -> str | None:
    relation = node.get("relation")
    if not isinstance(relation, dict) or not relation.get("relname"):
        return None
    schema = relation.get("schemaname")
    return f"{schema}.{relation['relname']}" if schema else str(relation["relname"])


def _current(
    changed: Mapping[str, Mapping[str, T]],
    base: Mapping[str, Mapping[str, T]],
    table: str,
    name: str,
) -> T | None:
    """``name`` of ``table`` as the run left it: changed by an earlier statement, else as the
    live database has it (whose table keys are spelled as written: compared canonically)."""
    mine = changed.get(table, {})
    if name in mine:
        return mine[name]
    for written, known in base.items():
        if canonical(written) == table:
            return known.get(name)
    return None
