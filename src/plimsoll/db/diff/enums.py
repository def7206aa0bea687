"""Enum types: created, dropped, labels added, and labels removed or reordered.

A label added is ``ALTER TYPE ... ADD VALUE ... BEFORE | AFTER`` (run inside the migration's
transaction from PostgreSQL 12 on; before 12 the migrator runs that migration outside one).
PostgreSQL has no ALTER for removing or reordering labels: the type is made again, under
the same name: the old one is renamed aside, the new one created, every column of the type
converted through text (``USING col::text::type``), and the old one dropped. What depends
on the type is moved out of the way around it: the columns' defaults, the views reading
those tables (rebuilt), the constraints, indexes, policies and triggers whose text names
the type, and the functions taking or returning it (dropped and created again). Rows holding
a label the new type lacks make the conversion fail: such a change is marked destructive.

Going back from an added label is that same recreation. And a label added in a transaction
cannot be used before it commits ("unsafe use of new value"): when the rest of the
migration writes an added label (a default, a check...), the type is recreated instead of
altered, since labels of a type created in the transaction can be used at once.

Not handled (the change is reported without DDL): a domain or composite type over the enum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from plimsoll.db.catalog import Catalog, Column, EnumType, Table, quote_ident, quote_literal
from plimsoll.db.diff import risks
from plimsoll.db.diff.functions import create_function_sql, drop_function_sql
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.parts import (
    add_constraint_sql,
    create_index_sql,
    create_policy_sql,
    create_trigger_sql,
    drop_constraint_sql,
    drop_index_sql,
    drop_policy_sql,
    drop_trigger_sql,
    uncommented,
)
from plimsoll.db.diff.tables import alter
from plimsoll.db.diff.text import by_name, comment_sql, diff_comment, pairs

# The byte limit of a PostgreSQL name (NAMEDATALEN - 1).
_NAME_BYTES = 63


@dataclass
class EnumDiff:
    """The enum changes, and what they mean for the rest of the diff.

    ``rebuilt`` are the tables and views whose readers must be rebuilt around a recreated
    type; ``retyped`` maps the (table key, column) pairs whose defaults the enum change sets
    to the enum's key (the column diff reports them and leaves the DDL alone);
    ``recreations`` the recreating change to use instead of an ADD VALUE change when the
    migration writes one of the labels it adds.
    """

    changes: list[Change] = field(default_factory=list)
    rebuilt: set[str] = field(default_factory=set)
    retyped: dict[tuple[str, str], str] = field(default_factory=dict)
    recreations: dict[int, tuple[Change, tuple[str, ...]]] = field(default_factory=dict)


def create_enum_sql(enum: EnumType) -> str:
    """``CREATE TYPE ... AS ENUM`` and its comment."""
    labels = ", ".join(quote_literal(label) for label in enum.labels)
    out = [f"CREATE TYPE {enum.sql_name} AS ENUM ({labels});"]
    if enum.comment is not None:
        out.append(comment_sql(f"TYPE {enum.sql_name}", enum.comment))
    return "\n".join(out)


def diff_enums(a: Catalog, b: Catalog) -> EnumDiff:
    """Enums created, dropped, commented, or whose labels changed."""
    result = EnumDiff()
    for key in pairs(a.enums, b.enums):
        old, new = a.enums.get(key), b.enums.get(key)
        if old is None and new is not None:
            step = Step(Phase.CREATE_TYPES, create_enum_sql(new), f"DROP TYPE {new.sql_name};")
            result.changes.append(Change(ChangeKind.ADDED, "enum", key, "", (step,)))
        elif new is None and old is not None:
            step = Step(Phase.DROP_TYPES, f"DROP TYPE {old.sql_name};", create_enum_sql(old))
            result.changes.append(Change(ChangeKind.REMOVED, "enum", key, "", (step,)))
        elif old is not None and new is not None:
            result.changes += diff_comment(old.comment, new.comment, f"TYPE {new.sql_name}", key)
            if old.labels != new.labels:
                _labels_changed(a, b, old, new, result)
    return result


def _labels_changed(a: Catalog, b: Catalog, old: EnumType, new: EnumType, out: EnumDiff) -> None:
    key = new.key
    detail = f"labels {', '.join(old.labels)} -> {', '.join(new.labels)}"
    blockers = _type_users_left_alone(a, old) | _type_users_left_alone(b, new)
    if blockers:
        detail += f" (used by {', '.join(sorted(blockers))}: recreate it by hand)"
        out.changes.append(Change(ChangeKind.CHANGED, "enum", key, detail, ()))
        return
    plan = _Recreation(a, b, old, new)
    out.rebuilt |= plan.rebuilt
    out.retyped |= dict.fromkeys(plan.retyped, key)
    added = tuple(label for label in new.labels if label not in old.labels)
    only_added = [label for label in new.labels if label in old.labels] == list(old.labels)
    recreate = Change(
        ChangeKind.CHANGED, "enum", key, f"{detail} (type recreated)", tuple(plan.steps(up=True))
    )
    if not only_added:
        out.changes.append(recreate)
        return
    steps = [Step(Phase.ALTER_TYPES, _add_values_sql(old, new), ""), *plan.steps(up=False)]
    altered = Change(ChangeKind.CHANGED, "enum", key, detail, tuple(steps))
    out.recreations[id(altered)] = (recreate, added)
    out.changes.append(altered)


def _add_values_sql(old: EnumType, new: EnumType) -> str:
    """One ADD VALUE per new label, each placed next to a label already there."""
    present = list(old.labels)
    out = []
    for position, label in enumerate(new.labels):
        if label in present:
            continue
        text = f"ALTER TYPE {new.sql_name} ADD VALUE {quote_literal(label)}"
        if position > 0:
            text += f" AFTER {quote_literal(new.labels[position - 1])}"
        elif present:
            text += f" BEFORE {quote_literal(present[0])}"
        out.append(text + ";")
        present.insert(position, label)
    return "\n".join(out)


def writes_label(sql: str, labels: tuple[str, ...]) -> bool:
    """Whether ``sql`` holds one of ``labels`` as a string literal."""
    return any(quote_literal(label) in sql for label in labels)


def _type_users_left_alone(catalog: Catalog, enum: EnumType) -> set[str]:
    """Domains and composite types built on the enum (a recreation does not move them), and
    partitioned tables keyed on a column of it (PostgreSQL cannot retype a key column)."""
    name = enum.sql_name
    found = {d.key for d in catalog.domains.values() if _names_type(d.base_type, name)} | {
        c.key
        for c in catalog.composites.values()
        if any(_names_type(attr.type, name) for attr in c.attributes)
    }
    for table in catalog.partitioned.values():
        key = table.partition_by or ""
        if any(
            _names_type(column.type, name) and _mentions(key, quote_ident(column.name))
            for column in table.columns
        ):
            found.add(f"the partition key of {table.key}")
    return found


def _names_type(type_text: str, sql_name: str) -> bool:
    return type_text == sql_name or type_text.startswith(f"{sql_name}[")


def _mentions(text: str | None, sql_name: str) -> bool:
    """Whether an expression or definition names the type (``'x'::app.mood``)."""
    if not text:
        return False
    return re.search(rf"(?<![\w.\"]){re.escape(sql_name)}(?![\w\"])", text) is not None


def _aside_name(enum: EnumType) -> str:
    """The name the old type is renamed to while the new one is made."""
    base = enum.name
    while len((base + "_old").encode()) > _NAME_BYTES:
        base = base[:-1]
    return base + "_old"


class _Recreation:
    """The steps recreating an enum from A's labels to B's, and back."""

    def __init__(self, a: Catalog, b: Catalog, old: EnumType, new: EnumType) -> None:
        self.old, self.new = old, new
        self.sql = new.sql_name
        self.rebuilt: set[str] = set()
        self.retyped: set[tuple[str, str]] = set()
        # Each step goes from A to B (up) and back (down); beside it, its up when the type
        # is altered in place rather than recreated.
        self._moves: list[Step] = []
        self._in_place: list[str] = []
        # The labels each way loses: rows holding one cannot be converted.
        self.lost = _lost(old, new)
        self.lost_back = _lost(new, old)
        aside = f"{quote_ident(new.schema)}.{quote_ident(_aside_name(new))}"
        rename = f"ALTER TYPE {self.sql} RENAME TO {quote_ident(_aside_name(new))};"
        self._move(
            Phase.CREATE_TYPES,
            f"{rename}\n{create_enum_sql(new)}",
            f"DROP TYPE {aside};",
            up_risk=risks.drop_labels(new.key, self.lost) if self.lost else "",
        )
        # A function is found by its argument types' names: on the way back, B's functions
        # are dropped while their type still has its name, just before it is renamed aside.
        drops_back: list[str] = []
        for key in sorted(set(a.tables) & set(b.tables)):
            self._table(a.tables[key], b.tables[key])
        # A partition tree's column changes type at its top, and PostgreSQL carries the change
        # (with the column's default dropped and set again) down to every partition; what a
        # partition has of its own (parts, a default of its own) is its own.
        members: list[tuple[Table, Table]] = []
        for kind in ("partitioned", "partitions"):
            was_all, now_all = getattr(a, kind), getattr(b, kind)
            for key in sorted(set(was_all) & set(now_all)):
                was, now = was_all[key], now_all[key]
                if was.partition_of is None and now.partition_of is None:
                    self._table(was, now)
                elif was.partition_of == now.partition_of:
                    members.append((was, now))
        for was, now in members:
            self._parts(was, now)
            self._own_defaults(a, b, was, now)
        for key in sorted(set(a.views) & set(b.views)):
            if _mentions(a.views[key].definition, self.sql) or _mentions(
                b.views[key].definition, self.sql
            ):
                self.rebuilt.add(key)
        for key in sorted(set(a.functions) & set(b.functions)):
            was, now = a.functions[key], b.functions[key]
            if any(
                _mentions(text, self.sql)
                for text in (was.argument_types, was.returns, now.argument_types, now.returns)
            ):
                self._move(Phase.DROP_TYPE_USERS, drop_function_sql(was), create_function_sql(was))
                self._move(Phase.FUNCTIONS, create_function_sql(now), "")
                drops_back.append(drop_function_sql(now))
        back = "\n".join([*drops_back, rename, create_enum_sql(old)])
        self._move(
            Phase.DROP_TYPES,
            f"DROP TYPE {aside};",
            back,
            down_risk=risks.drop_labels(new.key, self.lost_back) if self.lost_back else "",
        )

    def _move(
        self,
        phase: Phase,
        forward: str,
        backward: str,
        in_place: str = "",
        rank: int = 0,
        *,
        up_risk: str = "",
        down_risk: str = "",
    ) -> None:
        self._moves.append(Step(phase, forward, backward, rank, up_risk, down_risk))
        self._in_place.append(in_place)

    def steps(self, *, up: bool) -> list[Step]:
        """The recreation's steps; with ``up`` false, the way down only (the up keeps only
        what an in-place change still needs: the columns' new defaults, at no risk: labels
        are only added)."""
        if up:
            return list(self._moves)
        return [
            replace(step, up=in_place, up_risk="")
            for step, in_place in zip(self._moves, self._in_place, strict=True)
        ]

    def _table(self, old: Table, new: Table) -> None:
        after = by_name(new.columns)
        for column in old.columns:
            target = after.get(column.name)
            if (
                target is None
                or not _names_type(column.type, self.sql)
                or not _names_type(target.type, self.sql)
            ):
                continue
            self.rebuilt.add(new.key)
            self.retyped.add((new.key, column.name))
            self._move(
                Phase.ALTER_COLUMNS,
                _retype_sql(new, column, target),
                _retype_sql(new, target, column),
                _default_sql(new, column, target),
                up_risk=self._convert_risk(new, column.name, self.lost),
                down_risk=self._convert_risk(new, column.name, self.lost_back),
            )
        self._parts(old, new)

    def _convert_risk(self, table: Table, column: str, lost: list[str]) -> str:
        return risks.convert_labels(table.key, column, self.new.key, lost) if lost else ""

    def _own_defaults(self, a: Catalog, b: Catalog, old: Table, new: Table) -> None:
        """A partition's column of the type whose default is not its parent's: set again
        after the parent's retyping reset it (its parent's, whole tree, is set first)."""
        # After the tree's retyping each way (a phase's steps run in reverse on the way
        # down), a partition after its parent.
        depth = _depth(b, new)
        forward = _default_of_own(b, new, self.sql)
        if forward:
            self._move(Phase.ALTER_COLUMNS, forward, "", rank=1 + depth)
        backward = _default_of_own(a, old, self.sql)
        if backward:
            self._move(Phase.ALTER_COLUMNS, "", backward, rank=-1 - depth)

    def _parts(self, old: Table, new: Table) -> None:
        """Constraints, indexes, policies and triggers naming the type, unchanged between A
        and B (a changed one is dropped and created by the table's own diff)."""
        sql = self.sql
        kept = by_name(new.constraints)
        for constraint in old.constraints:
            if _same(kept.get(constraint.name), constraint) and _mentions(
                constraint.definition, sql
            ):
                phases = (
                    (Phase.DROP_FOREIGN_KEYS, Phase.ADD_FOREIGN_KEYS)
                    if constraint.is_foreign_key
                    else (Phase.DROP_CONSTRAINTS, Phase.ADD_CONSTRAINTS)
                )
                drop, add = (
                    drop_constraint_sql(old, constraint),
                    add_constraint_sql(old, constraint),
                )
                self._move(phases[0], drop, add)
                self._move(phases[1], add, drop)
        kept_indexes = by_name(new.indexes)
        for index in old.indexes:
            if _same(kept_indexes.get(index.name), index) and _mentions(index.definition, sql):
                drop, create = (
                    drop_index_sql(old.schema, index),
                    create_index_sql(old.schema, index),
                )
                self._move(Phase.DROP_INDEXES, drop, create)
                self._move(Phase.CREATE_INDEXES, create, drop)
        kept_policies = by_name(new.policies)
        for policy in old.policies:
            if _same(kept_policies.get(policy.name), policy) and (
                _mentions(policy.using, sql) or _mentions(policy.with_check, sql)
            ):
                drop, create = drop_policy_sql(old, policy), create_policy_sql(old, policy)
                self._move(Phase.DROP_POLICIES, drop, create)
                self._move(Phase.CREATE_POLICIES, create, drop)
        kept_triggers = by_name(new.triggers)
        for trigger in old.triggers:
            found = kept_triggers.get(trigger.name)
            if (
                found is not None
                and found.definition == trigger.definition
                and _mentions(trigger.definition, sql)
            ):
                # Created again as it was; its state and comment, if they change, change after.
                drop, create = drop_trigger_sql(old, trigger), create_trigger_sql(old, trigger)
                self._move(Phase.DROP_TRIGGERS, drop, create)
                self._move(Phase.CREATE_TRIGGERS, create, drop)


def _same(found: Any, item: Any) -> bool:
    """Whether ``found`` is ``item`` but for its comment (which changes in place after)."""
    return found is not None and uncommented(found) == uncommented(item)


def _lost(old: EnumType, new: EnumType) -> list[str]:
    """The labels of ``old`` that ``new`` lacks, quoted."""
    return [quote_literal(label) for label in old.labels if label not in new.labels]


def _depth(catalog: Catalog, table: Table) -> int:
    """How far below the top of its partition tree ``table`` is."""
    depth, parent = 0, table.partition_of
    while parent is not None and depth < 100:
        depth += 1
        found = catalog.find_table(parent)
        parent = found.partition_of if found is not None else None
    return depth


def _default_of_own(catalog: Catalog, table: Table, sql_name: str) -> str:
    """The statements giving ``table``'s columns of the type ``sql_name`` their own
    defaults, where they differ from its parent's (what the parent's retyping leaves)."""
    parent = catalog.find_table(table.partition_of or "")
    if parent is None:
        return ""
    inherited = by_name(parent.columns)
    out = []
    for column in table.columns:
        above = inherited.get(column.name)
        if above is None or not _names_type(column.type, sql_name):
            continue
        if column.default != above.default:
            name = quote_ident(column.name)
            if column.default is None:
                out.append(alter(table, f"ALTER COLUMN {name} DROP DEFAULT"))
            else:
                out.append(alter(table, f"ALTER COLUMN {name} SET DEFAULT {column.default}"))
    return "\n".join(out)


def _retype_sql(table: Table, before: Column, after: Column) -> str:
    """A column moved to the (new) type of the same name, through text; its default is
    dropped first (it names the old type) and set again after."""
    name = quote_ident(after.name)
    column = f"ALTER COLUMN {name}"
    text = "text[]" if after.type.endswith("[]") else "text"
    out = []
    if before.default is not None:
        out.append(alter(table, f"{column} DROP DEFAULT"))
    out.append(alter(table, f"{column} TYPE {after.type} USING {name}::{text}::{after.type}"))
    if after.default is not None:
        out.append(alter(table, f"{column} SET DEFAULT {after.default}"))
    return "\n".join(out)


def _default_sql(table: Table, before: Column, after: Column) -> str:
    """The default change of a column left of its type (the type altered in place)."""
    if before.default == after.default:
        return ""
    column = f"ALTER COLUMN {quote_ident(after.name)}"
    if after.default is None:
        return alter(table, f"{column} DROP DEFAULT")
    return alter(table, f"{column} SET DEFAULT {after.default}")
