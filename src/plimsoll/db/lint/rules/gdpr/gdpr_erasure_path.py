"""gdpr-erasure-path."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog, Constraint, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    DEFAULT_ERASURE_FUNCTIONS,
    ErasurePatterns,
    PersonalDataOptions,
    erasure_functions,
    subject_tables,
)
from plimsoll.db.lint.schema_facts import origin_of


class GdprErasurePath(SchemaRule):
    """Make every data-subject row erasable: no foreign key may block its deletion.

    **Problem.** A foreign key references a data-subject table (``users``, ``customers``...)
    with ``ON DELETE NO ACTION`` or ``RESTRICT`` (the default), so ``DELETE FROM users WHERE
    id = $1`` fails as soon as the person has an order, a comment or a session. The rule
    follows ``ON DELETE CASCADE`` chains: a table the deletion cascades into must not be
    blocked by its own referencing keys either. An ``ON DELETE SET NULL`` on a ``NOT NULL``
    column blocks it too (the deletion fails on the null).

    **Why.** The right to erasure (GDPR Art. 17) obliges the controller to erase a person's
    data without undue delay; a schema where deleting the person's row is refused leaves no
    erasure path but hand-written clean-up, which is forgotten for the next table added.

    **Fix.** Declare each referencing key ``ON DELETE CASCADE`` (the dependent rows are the
    person's data too) or ``ON DELETE SET NULL`` (the row must outlive the person, such as an
    invoice kept for tax law, and loses the link); ``allowed_actions`` (default ``CASCADE``,
    ``SET NULL``, ``SET DEFAULT``) sets which actions count. Or provide an anonymisation
    function for the table, found by ``erasure_functions`` (regular expressions on function
    names where ``{table}`` is the table's name and ``{singular}`` its singular; by default
    ``anonymize_user``, ``anonymise_users``, ``erase_customer``, ``forget_user``,
    ``gdpr_erase_user``...): the function then overwrites the personal data in place and the
    keys may stay. Financial ledgers that must not lose rows (the ``sox`` library) are the
    case for such a function.

    **Example.**

    ```sql
    CREATE TABLE orders (
        id bigint PRIMARY KEY,
        user_id bigint REFERENCES users (id) ON DELETE SET NULL
    );
    ```
    """

    id = "gdpr-erasure-path"
    severity = Severity.ERROR
    help = "Use ON DELETE CASCADE or SET NULL, or add an anonymize_<table>() function."
    # The sox library forbids cascading deletes into ledgers, which this rule may ask for:
    # with both libraries on, the composer resolves the contradiction (an anonymisation
    # function satisfies both).
    conflicts_with = ("sox-ledger-no-cascade-delete",)

    class Options(PersonalDataOptions):
        """Data-subject tables, the delete actions that count, and erasure-function names."""

        allowed_actions: tuple[str, ...] = Field(
            default=("CASCADE", "SET NULL", "SET DEFAULT"),
            description="ON DELETE actions that let a referenced row be deleted.",
        )
        erasure_functions: ErasurePatterns = Field(
            default=DEFAULT_ERASURE_FUNCTIONS,
            description="Function names that erase or anonymise a table's rows; {table} is"
            " the table's name, {singular} its singular.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Walk the foreign keys into each data-subject table and flag those that block."""
        subjects = subject_tables(catalog, self.options)
        if not subjects:
            return
        referencing: dict[str, list[tuple[Table, Constraint]]] = defaultdict(list)
        for table in catalog.all_tables():
            for constraint in table.constraints:
                if constraint.kind == "f" and constraint.references:
                    referencing[constraint.references].append((table, constraint))
        allowed = {a.upper() for a in self.options.allowed_actions}
        reported: set[str] = set()
        for subject in subjects:
            if erasure_functions(catalog, subject, self.options.erasure_functions):
                continue
            for table, constraint, via in self._blockers(subject, referencing, allowed):
                key = f"{table.key}.{constraint.name}"
                if key in reported:
                    continue
                reported.add(key)
                yield Violation(
                    self._message(subject, table, constraint, via),
                    object=key,
                    origin=origin_of(table, constraint),
                )

    @staticmethod
    def _blockers(
        subject: Table,
        referencing: dict[str, list[tuple[Table, Constraint]]],
        allowed: set[str],
    ) -> Iterator[tuple[Table, Constraint, str | None]]:
        """The foreign keys that make deleting a row of ``subject`` fail.

        Breadth first over the tables the deletion cascades into; each blocker comes with the
        cascaded table it references (None when it references the subject directly).
        """
        queue = [subject.key]
        seen = {subject.key}
        while queue:
            target = queue.pop(0)
            for table, constraint in referencing.get(target, ()):
                action = constraint.on_delete.upper()
                if action not in allowed:
                    yield table, constraint, None if target == subject.key else target
                elif action in ("SET NULL", "SET DEFAULT") and _uncleared(table, constraint):
                    yield table, constraint, None if target == subject.key else target
                elif action == "CASCADE" and table.key not in seen:
                    seen.add(table.key)
                    queue.append(table.key)

    @staticmethod
    def _message(subject: Table, table: Table, constraint: Constraint, via: str | None) -> str:
        action = constraint.on_delete.upper()
        columns = ", ".join(_uncleared(table, constraint))
        if action == "SET NULL":
            how = f"ON DELETE SET NULL on NOT NULL {columns}"
        elif action == "SET DEFAULT":
            how = f"ON DELETE SET DEFAULT on NOT NULL {columns} without a default"
        else:
            how = f"ON DELETE {action}"
        target = (
            subject.key if via is None else f"{via} (deleting from {subject.key} cascades there)"
        )
        return (
            f"foreign key {constraint.name} of {table.key} references {target} with {how}:"
            f" deleting a person from {subject.key} fails, there is no erasure path (Art. 17)"
        )


# PostgreSQL 15+ may name the columns an ON DELETE SET NULL / SET DEFAULT clears.
_CLEARED = re.compile(r"ON DELETE SET (?:NULL|DEFAULT)\s*\(([^)]*)\)", re.IGNORECASE)


def _uncleared(table: Table, constraint: Constraint) -> list[str]:
    """The columns on which ON DELETE SET NULL / SET DEFAULT fails (they cannot become null).

    SET NULL fails on a NOT NULL column; SET DEFAULT on a NOT NULL column without a default
    (the default is then null). Only the listed columns are cleared when the clause names
    them (``ON DELETE SET NULL (author_id)``).
    """
    listed = _CLEARED.search(constraint.definition)
    if listed:
        columns = {name.strip().strip('"') for name in listed.group(1).split(",")}
    else:
        columns = set(constraint.columns)
    set_default = constraint.on_delete.upper() == "SET DEFAULT"
    return [
        column.name
        for column in table.columns
        if column.name in columns
        and not column.nullable
        and (not set_default or column.default is None)
    ]
