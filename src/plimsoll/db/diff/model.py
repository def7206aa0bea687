"""The records a diff is made of: what changed (:class:`Change`) and how to migrate it
(:class:`Step`, placed by its :class:`Phase`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class ChangeKind(StrEnum):
    """What happened to an object between A and B."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Phase(IntEnum):
    """Where a step runs in a migration; ``down`` runs the steps in reverse.

    The drops of dependents come first (triggers, policies, views, partitions detached,
    foreign keys, constraints, indexes, tables, and what uses a type being recreated), then
    the creations in dependency order (schemas, extensions, types, sequences, functions,
    tables, columns, partitions: once their parent has its final columns; default privileges
    right after the schemas, before anything is created under them; tables' persistence and
    storage parameters once their columns are final), then the drops of
    what nothing uses any more (functions, sequences, types, extensions, schemas), then what
    hangs on tables (constraints, indexes, foreign keys, inheritance, partitions attached,
    views, triggers, row-level security, policies), comments and grants.
    """

    DROP_TRIGGERS = 10
    DROP_POLICIES = 20
    DROP_VIEWS = 30
    DETACH_PARTITIONS = 33
    DISINHERIT = 35
    DROP_FOREIGN_KEYS = 40
    DROP_CONSTRAINTS = 50
    DROP_INDEXES = 60
    DISOWN_SEQUENCES = 65
    DROP_TABLES = 70
    DROP_TYPE_USERS = 75
    CREATE_SCHEMAS = 80
    DEFAULT_PRIVILEGES = 82
    CREATE_EXTENSIONS = 85
    CREATE_TYPES = 90
    ALTER_TYPES = 95
    SEQUENCES = 100
    FUNCTIONS = 110
    CREATE_TABLES = 120
    DROP_COLUMNS = 130
    ADD_COLUMNS = 140
    ALTER_COLUMNS = 150
    CREATE_PARTITIONS = 152
    ALTER_DOMAINS = 155
    TABLE_SETTINGS = 157
    DROP_FUNCTIONS = 160
    DROP_SEQUENCES = 170
    DROP_TYPES = 180
    DROP_EXTENSIONS = 185
    DROP_SCHEMAS = 190
    ADD_CONSTRAINTS = 200
    CREATE_INDEXES = 210
    ADD_FOREIGN_KEYS = 220
    INHERIT = 225
    ATTACH_PARTITIONS = 227
    OWN_SEQUENCES = 230
    CREATE_VIEWS = 240
    CREATE_TRIGGERS = 250
    ROW_SECURITY = 260
    CREATE_POLICIES = 270
    COMMENTS = 280
    GRANTS = 290


@dataclass(frozen=True)
class Step:
    """One statement (or a few that belong together) and the statement undoing it.

    Either may be empty when the step has nothing to do that way. ``rank`` orders steps
    inside a phase (views in dependency order); equal ranks keep the order in which the
    differ produced them. ``up_risk`` and ``down_risk`` say why running ``up`` (``down``)
    may lose data or fail on existing rows (empty when it cannot): see
    :mod:`~plimsoll.db.diff.risks`.
    """

    phase: Phase
    up: str
    down: str
    rank: int = 0
    up_risk: str = ""
    down_risk: str = ""

    @property
    def order(self) -> tuple[int, int]:
        """The sort key of this step in a migration."""
        return (int(self.phase), self.rank)


@dataclass(frozen=True)
class Change:
    """One object added, removed or changed, with the steps that migrate it.

    A change is destructive when its migration may lose data or fail on existing rows: a
    step's ``up_risk`` says why (a table or column dropped, SET NOT NULL, a narrowing type
    change, a constraint checked against the rows...), and ``reasons`` say it for what the
    change's own steps do not carry: a change without DDL, or one another object's DDL
    carries out. ``covered_by`` names the object whose DDL carries this change out too (a
    column added to a parent table appears on its children and partitions; a column default
    an enum recreation sets): such a change may have no step of its own and still be
    generated.
    """

    kind: ChangeKind
    object_type: str
    name: str
    detail: str = ""
    steps: tuple[Step, ...] = field(default=(), repr=False)
    reasons: tuple[str, ...] = ()
    covered_by: str = ""

    @property
    def risks(self) -> tuple[str, ...]:
        """Why this change may lose data or fail on existing rows (each reason once)."""
        found = [*self.reasons, *(s.up_risk for s in sorted(self.steps, key=lambda s: s.order))]
        return tuple(dict.fromkeys(r for r in found if r))

    @property
    def destructive(self) -> bool:
        """Whether the migration of this change may lose data or fail on existing rows."""
        return bool(self.risks)

    @property
    def up_sql(self) -> str:
        """The DDL turning A into B for this object."""
        return "\n".join(s.up for s in sorted(self.steps, key=lambda s: s.order) if s.up)

    @property
    def down_sql(self) -> str:
        """The DDL turning B back into A for this object."""
        # reversed(sorted(...)), not sorted(reverse=True): steps of one phase must reverse too.
        ordered = sorted(self.steps, key=lambda s: s.order)
        return "\n".join(s.down for s in reversed(ordered) if s.down)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the change."""
        return {
            "kind": str(self.kind),
            "object_type": self.object_type,
            "name": self.name,
            "detail": self.detail,
            "destructive": self.destructive,
            "destructive_reasons": list(self.risks),
            "covered_by": self.covered_by or None,
            "up_sql": self.up_sql,
            "down_sql": self.down_sql,
        }


def kind_of(was: object | None, now: object | None) -> ChangeKind:
    """ADDED when only ``now`` exists, REMOVED when only ``was`` does, else CHANGED."""
    if was is None:
        return ChangeKind.ADDED
    if now is None:
        return ChangeKind.REMOVED
    return ChangeKind.CHANGED
