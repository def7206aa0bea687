"""hipaa-phi-view-no-public-grant."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, View
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, PhiTable, phi_tables
from plimsoll.db.lint.schema_facts import finding, identifiers, privileges_by_grantee

# SELECT * (or t.*) exposes every column of what it reads.
_STAR = re.compile(r"\bselect\s+(?:distinct\s+)?\*|\.\s*\*", re.IGNORECASE)


def exposed_phi(
    view: View, by_key: dict[str, PhiTable], by_name: dict[str, list[PhiTable]]
) -> tuple[list[str], list[str]]:
    """The PHI tables a view reads and the PHI columns of theirs it names (or ``*``)."""
    words = identifiers(view.definition)
    read = {key: by_key[key] for key in view.depends_on if key in by_key}
    for name in words & by_name.keys():
        for phi in by_name[name]:
            read.setdefault(phi.key, phi)
    star = bool(_STAR.search(view.definition))
    columns = sorted(
        {c.name for phi in read.values() for c in phi.columns if star or c.name in words}
    )
    return sorted(read), columns


class PhiViewNoPublicGrant(SchemaRule):
    """Views exposing PHI columns grant nothing to PUBLIC.

    **Problem.** A view (or materialized view) that selects PHI columns from a table holding
    PHI grants a privilege to ``PUBLIC``.

    **Why.** A view reads its tables with its owner's privileges, and before PostgreSQL 15
    (or without ``WITH (security_invoker)``) with its owner's row-level security too: the
    table may grant nothing to ``PUBLIC`` and restrict rows by policy, and the view hands
    every role the PHI anyway. A materialized view is a copy of the PHI with no row-level
    security at all. 45 CFR 164.312(a)(1) (access control) and 164.308(a)(4) (information
    access management) cover every path to ePHI, not only its base tables. A view is taken
    to expose PHI when it reads a table holding PHI (its dependencies, or the table's name
    in its query) and names one of that table's PHI columns or selects ``*``.

    **Fix.** ``REVOKE ... FROM PUBLIC`` on the view, grant it to the roles that need it, and
    on PostgreSQL 15 and later create it ``WITH (security_invoker = true)``.

    **Example.**

    ```sql
    REVOKE ALL ON patient_overview FROM PUBLIC;
    GRANT SELECT ON patient_overview TO care_team;
    ```
    """

    id = "hipaa-phi-view-no-public-grant"
    severity = Severity.ERROR
    help = "REVOKE the view's privileges FROM PUBLIC and grant them to the roles that need it."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which columns and tables hold PHI (shared by the hipaa library: set them once under ``db.lint.library_options.hipaa``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each view granted to PUBLIC that exposes PHI columns."""
        scope = phi_tables(catalog, self.options)
        if not scope or not catalog.views:
            return
        by_key = {phi.key: phi for phi in scope}
        by_name: dict[str, list[PhiTable]] = {}
        for phi in scope:
            by_name.setdefault(phi.table.name.lower(), []).append(phi)
        for view in catalog.views.values():
            public = privileges_by_grantee(view.grants).get("PUBLIC")
            if not public:
                continue
            tables, columns = exposed_phi(view, by_key, by_name)
            if not columns:
                continue
            kind = "materialized view" if view.materialized else "view"
            yield finding(
                view,
                f"{kind} {view.key} exposes PHI columns {', '.join(columns)} of"
                f" {', '.join(tables)} and grants {', '.join(sorted(public))} to PUBLIC:"
                " every role reads the PHI past the table's grants and row-level security",
            )
