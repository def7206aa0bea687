"""What several schema rules of the ``general`` library share.

Not a rule module (it defines no rule): the named objects of a catalog (the naming rules walk
every object that has a name a user chose), PostgreSQL's identifier limit, and the default
patterns of secret columns (the security rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from plimsoll.db.catalog import Catalog, Origin

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


def named_objects(
    catalog: Catalog, wanted: Callable[[str], bool] | None = None
) -> Iterator[NamedObject]:
    """Every user-named object of ``catalog`` whose name ``wanted`` accepts (all without it).

    Names repeat a lot (``id``, ``created_at`` on every table) and most pass a naming rule:
    ``wanted`` is asked once per distinct name, and only the objects it accepts are built,
    which keeps a catalog of thousands of tables cheap to walk. Policies are left out: their
    names are labels that no query ever spells (only ``CREATE``/``ALTER``/``DROP POLICY``
    do).
    """
    verdicts: dict[str, bool] = {}

    def accept(name: str) -> bool:
        verdict = verdicts.get(name)
        if verdict is None:
            verdict = verdicts[name] = True if wanted is None else wanted(name)
        return verdict

    for table in catalog.tables.values():
        own = table.key
        if accept(table.name):
            yield NamedObject("table", table.name, own, table.origin)
        for column in table.columns:
            if accept(column.name):
                yield NamedObject("column", column.name, f"{own}.{column.name}", column.origin)
        for constraint in table.constraints:
            if accept(constraint.name):
                yield NamedObject(
                    "constraint", constraint.name, f"{own}.{constraint.name}", constraint.origin
                )
        for index in table.indexes:
            if accept(index.name):
                yield NamedObject("index", index.name, f"{table.schema}.{index.name}", index.origin)
        for trigger in table.triggers:
            if accept(trigger.name):
                yield NamedObject("trigger", trigger.name, f"{own}.{trigger.name}", trigger.origin)
    for view in catalog.views.values():
        if accept(view.name):
            kind = "materialized view" if view.materialized else "view"
            yield NamedObject(kind, view.name, view.key, view.origin)
    for sequence in catalog.sequences.values():
        if accept(sequence.name):
            yield NamedObject("sequence", sequence.name, sequence.key, sequence.origin)
    for enum in catalog.enums.values():
        if accept(enum.name):
            yield NamedObject("type", enum.name, enum.key, enum.origin, column_like=False)
    for function in catalog.functions.values():
        if accept(function.name):
            kind = "procedure" if function.procedure else "function"
            yield NamedObject(kind, function.name, function.key, function.origin, column_like=False)
