"""cascade-delete-depth."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation


def cascade_children(catalog: Catalog) -> dict[str, list[str]]:
    """For each table, the tables whose foreign keys to it say ON DELETE CASCADE.

    Self-references (a tree deleting its own subtree) are left out: they repeat one table,
    not a chain of them.
    """
    children: dict[str, set[str]] = defaultdict(set)
    for table in catalog.all_tables():
        for constraint in table.constraints:
            if (
                constraint.kind == "f"
                and constraint.on_delete == "CASCADE"
                and constraint.references
                and constraint.references != table.key
            ):
                children[constraint.references].add(table.key)
    return {parent: sorted(kids) for parent, kids in children.items()}


def longest_chains(children: dict[str, list[str]]) -> dict[str, list[str]]:
    """For each table with cascading children, its longest cascade path (itself first).

    Depth first, iterative; a cycle of cascades is cut where it closes (each table appears
    once in a path).
    """
    best: dict[str, list[str]] = {}
    on_path: set[str] = set()
    for root in children:
        if root in best:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        on_path.add(root)
        while stack:
            node, position = stack[-1]
            kids = children.get(node, ())
            if position < len(kids):
                stack[-1] = (node, position + 1)
                kid = kids[position]
                if kid not in best and kid not in on_path:
                    on_path.add(kid)
                    stack.append((kid, 0))
                continue
            stack.pop()
            on_path.discard(node)
            path = [node]
            for kid in kids:
                below = best.get(kid)
                if below is None:
                    continue  # a cycle back to a table still being walked
                if len(below) + 1 > len(path):
                    path = [node, *below]
            best[node] = path
    return best


class CascadeDeleteDepth(SchemaRule):
    """ON DELETE CASCADE chains stay short.

    **Problem.** When table B references A with ``ON DELETE CASCADE``, C references B the
    same way, and so on, one ``DELETE`` on A deletes rows in every table down the chain,
    each level fired row by row by the foreign keys' triggers, in the same transaction.

    **Why.** A delete that looks like one row can remove millions across many tables:
    long-held row locks on all of them, a burst of WAL, replication lag, and a transaction
    that can run for minutes. Deep chains also delete data nobody meant to touch: who
    deleting a customer expects the audit records four levels down to go with it?

    **Fix.** Keep ``CASCADE`` to true ownership (an order's lines), use ``RESTRICT`` or
    ``NO ACTION`` further down and delete explicitly, in batches, or soft-delete the top
    row. ``max_depth`` (default 3) is the longest chain of cascading foreign keys allowed;
    a self-referencing cascade (a tree) counts once. One finding per chain, at the table
    whose delete starts it.

    **Example.**

    ```sql
    -- DELETE FROM accounts cascades 4 levels: projects, tasks, comments, reactions
    CREATE TABLE projects (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts ON DELETE CASCADE);
    CREATE TABLE tasks (id bigint PRIMARY KEY, project_id bigint REFERENCES projects ON DELETE CASCADE);
    CREATE TABLE comments (id bigint PRIMARY KEY, task_id bigint REFERENCES tasks ON DELETE CASCADE);
    CREATE TABLE reactions (id bigint PRIMARY KEY, comment_id bigint REFERENCES comments ON DELETE CASCADE);
    ```
    """

    id = "cascade-delete-depth"
    severity = Severity.WARNING
    help = (
        "Cascade only to owned rows; use RESTRICT further down and delete explicitly, in batches."
    )

    class Options(BaseModel):
        """``max_depth``: the longest chain of ON DELETE CASCADE foreign keys allowed."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        max_depth: int = Field(default=3, ge=1)

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each table whose delete cascades further than ``max_depth`` levels."""
        children = cascade_children(catalog)
        if not children:
            return
        chains = longest_chains(children)
        limit = self.options.max_depth
        too_deep = {key for key, path in chains.items() if len(path) - 1 > limit}
        if not too_deep:
            return
        # Report each chain once, at its top: a table no too-deep table cascades into.
        inner = {kid for parent in too_deep for kid in children.get(parent, ())}
        for key in sorted(too_deep - inner):
            path = chains[key]
            table = catalog.find_table(key)
            yield Violation(
                f"DELETE on {key} cascades {len(path) - 1} levels deep ({' -> '.join(path)}):"
                f" one delete locks and removes rows in {len(path)} tables in one transaction",
                object=key,
                origin=table.origin if table is not None else None,
            )
