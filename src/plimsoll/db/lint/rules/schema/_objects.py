"""What several schema rules of the ``general`` library share.

Not a rule module (it defines no rule): the named objects of a catalog (the naming rules walk
every object that has a name a user chose), PostgreSQL's identifier limit, the default
patterns of secret columns (the security rules), and the base of the rules that bound how
many of something a table has.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from typing import ClassVar

from plimsoll.db.catalog import Catalog, Origin, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Violation
from plimsoll.db.lint.schema_facts import columns_by_name, finding, per_catalog

# The longest identifier PostgreSQL keeps: NAMEDATALEN - 1 bytes (NAMEDATALEN is 64).
MAX_IDENTIFIER_BYTES = 63

# Column names that hold a credential itself: anchored at the end of the name so that
# ``password_changed_at``, ``token_type`` or ``password_hash`` are not taken for one.
SECRET_COLUMN_PATTERNS = (
    r"(^|_)(password|passwd|pwd|passphrase)$",
    r"(^|_)secret$",
    r"(^|_)token$",
    r"(^|_)api_?key$",
    r"(^|_)(private|secret|signing)_?key$",
)
# Column names that make a table sensitive: anything about a credential, hashes included
# (a readable password hash can be cracked offline).
SENSITIVE_COLUMN_PATTERNS = (
    r"passw(or)?d",
    r"passphrase",
    r"secret",
    r"token",
    r"api_?key",
    r"private_?key",
)


@dataclass(frozen=True, slots=True)
class NamedObject:
    """One named object: what it is, its name, its key, where it was defined."""

    kind: str
    name: str
    key: str
    origin: Origin | None
    # Whether it is a column (a ColId: the keywords it may not use differ from a function's).
    column_like: bool = True


def object_names(catalog: Catalog) -> frozenset[str]:
    """The distinct names of the objects :func:`named_objects` walks (once per catalog)."""

    def build() -> frozenset[str]:
        # Column names come from the shared index: schemas repeat them on every table.
        names: set[str] = set(columns_by_name(catalog))
        names.update(catalog.schemas)
        add = names.add
        for table in catalog.all_tables(partitions=True):
            add(table.name)
            names.update(constraint.name for constraint in table.constraints)
            names.update(index.name for index in table.indexes)
            names.update(trigger.name for trigger in table.triggers)
        for objects in (catalog.views, catalog.sequences, catalog.enums, catalog.functions):
            names.update(obj.name for obj in objects.values())
        return frozenset(names)

    return per_catalog(catalog, "object_names", build)


def named_objects(
    catalog: Catalog, wanted: Callable[[str], bool] | None = None
) -> Iterator[NamedObject]:
    """Every user-named object of ``catalog`` whose name ``wanted`` accepts (all without it).

    Names repeat a lot (``id``, ``created_at`` on every table) and most pass a naming rule:
    ``wanted`` is asked once per distinct name (:func:`object_names`, shared by the naming
    rules), the catalog is walked only when it accepts one, and only the objects it accepts
    are built, which keeps a catalog of thousands of tables cheap. Policies are left out:
    their names are labels that no query ever spells (only ``CREATE``/``ALTER``/``DROP
    POLICY`` do).
    """
    if wanted is None:
        chosen: Container[str] = _EVERY_NAME
    else:
        chosen = {name for name in object_names(catalog) if wanted(name)}
        if not chosen:
            return
    for schema in sorted(catalog.schemas):
        if schema in chosen:
            # A schema name is a ColId, as a table's is; its origin is known from files only.
            yield NamedObject("schema", schema, schema, catalog.schema_origins.get(schema))
    for table in catalog.all_tables(partitions=True):
        own = table.key
        if table.name in chosen:
            kind = "partition" if table.is_partition else "table"
            yield NamedObject(kind, table.name, own, table.origin)
        # A partition's columns are its parent's, reported there.
        for column in () if table.is_partition else table.columns:
            if column.name in chosen:
                yield NamedObject("column", column.name, f"{own}.{column.name}", column.origin)
        for constraint in table.constraints:
            if constraint.name in chosen:
                yield NamedObject(
                    "constraint", constraint.name, f"{own}.{constraint.name}", constraint.origin
                )
        for index in table.indexes:
            if index.name in chosen:
                yield NamedObject("index", index.name, f"{table.schema}.{index.name}", index.origin)
        for trigger in table.triggers:
            if trigger.name in chosen:
                yield NamedObject("trigger", trigger.name, f"{own}.{trigger.name}", trigger.origin)
    for view in catalog.views.values():
        if view.name in chosen:
            kind = "materialized view" if view.materialized else "view"
            yield NamedObject(kind, view.name, view.key, view.origin)
    for sequence in catalog.sequences.values():
        if sequence.name in chosen:
            yield NamedObject("sequence", sequence.name, sequence.key, sequence.origin)
    for enum in catalog.enums.values():
        if enum.name in chosen:
            yield NamedObject("type", enum.name, enum.key, enum.origin, column_like=False)
    for function in catalog.functions.values():
        if function.name in chosen:
            kind = "procedure" if function.procedure else "function"
            yield NamedObject(kind, function.name, function.key, function.origin, column_like=False)


class _Every:
    """A container holding every name."""

    def __contains__(self, name: object) -> bool:
        return True


_EVERY_NAME = _Every()


class TableLimitRule(SchemaRule):
    """A rule bounding how many of something (columns, indexes) each table has.

    Subclasses name what they count (``counted``, plural), what too many of them costs
    (``cost``), and say the limit (:meth:`limit`, from the options) and the count
    (:meth:`count`).
    """

    counted: ClassVar[str]
    cost: ClassVar[str]

    @abstractmethod
    def limit(self) -> int:
        """The most a table may have."""

    @abstractmethod
    def count(self, table: Table, limit: int) -> int:
        """How many the table has (exact when above ``limit``; may stop short below it)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each table with more than the limit."""
        limit = self.limit()
        for table in catalog.all_tables():
            count = self.count(table, limit)
            if count > limit:
                yield finding(
                    table,
                    f"{table.key} has {count} {self.counted} (more than {limit}): {self.cost}",
                )
