"""ban-create-domain-with-constraint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, name_key, unwrap

# The domain constraints that restrict values; DEFAULT, NULL and COLLATE do not.
_CONSTRAINTS = {"CONSTR_CHECK": "CHECK", "CONSTR_NOTNULL": "NOT NULL"}


class BanCreateDomainWithConstraint(StatementRule):
    """Put constraints on table columns, not on domains.

    **Problem.** A constraint on a domain applies to every column of that type, in every
    table, and it can only be changed through the domain: adding one later (``ALTER DOMAIN
    ... ADD CONSTRAINT``, ``SET NOT NULL``) checks every row of every table using the domain
    while holding a SHARE lock on each of them (writes blocked); removing one for a single
    table means changing that column's type. Domain constraints are also only checked when a
    value is converted to the domain: the PostgreSQL documentation notes that a column of a
    domain with ``NOT NULL`` can still read as null (in an outer join, for one), and
    recommends allowing nulls in the domain and putting ``NOT NULL`` on the columns.

    **Why.** Column and table constraints can be added ``NOT VALID`` and validated under a
    SHARE UPDATE EXCLUSIVE lock, one table at a time, and changed without touching the
    others.

    **Fix.** Create the domain without ``CHECK`` or ``NOT NULL`` (or use the base type), and
    put the rules on the columns that need them. The rule applies to migrations and schema
    files alike. Unlike squawk, it does not flag ``DEFAULT`` or ``NULL`` on a domain, which
    restrict nothing.

    **Example.**

    ```sql
    -- every column of type price, everywhere, is bound to this check
    CREATE DOMAIN price AS numeric(12, 2) CHECK (VALUE >= 0);
    -- the rule lives on the column
    CREATE DOMAIN price AS numeric(12, 2);
    ALTER TABLE items ADD CONSTRAINT items_price_positive CHECK (price >= 0) NOT VALID;
    ```
    """

    id = "ban-create-domain-with-constraint"
    severity = Severity.WARNING
    help = "Create the domain without CHECK or NOT NULL; put constraints on the table columns."
    node_types: ClassVar[tuple[str, ...]] = ("CreateDomainStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a CREATE DOMAIN with a CHECK or NOT NULL constraint."""
        node = statement.node
        found = []
        location = None
        for item in node.get("constraints") or ():
            _, constraint = unwrap(item)
            kind = _CONSTRAINTS.get(constraint.get("contype", ""))
            if kind is None:
                continue
            found.append(kind)
            if location is None and constraint.get("location", -1) >= 0:
                location = constraint["location"]
        if not found:
            return
        domain = name_key(node.get("domainname"), context.default_schema)
        yield Violation(
            f"domain {domain} has a {' and a '.join(dict.fromkeys(found))} constraint: every"
            " column of the domain is bound to it, and changing it later checks every table"
            " that uses the domain under a lock that blocks writes",
            location=location,
        )
