"""The builder: each statement's parse tree to the module that applies it, and the catalog.

:class:`CatalogBuilder` is what the linter and the tests drive: ``apply`` one statement at
a time (statements that change no schema are ignored), then ``catalog()`` for the frozen
:class:`~plimsoll.db.catalog.Catalog`. :func:`build_catalog` does both for whole scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from plimsoll.core.gcpause import gc_paused
from plimsoll.db.catalog import Catalog, Sequence
from plimsoll.db.ddl import (
    alter,
    drops,
    functions,
    grants_comments,
    indexes,
    privileges,
    renames,
    sequences,
    tables,
    triggers_policies,
    user_types,
    views,
)
from plimsoll.db.ddl.expressions import min_location
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.state import grant_set
from plimsoll.db.sqljson import JsonScript, JsonStatement, Node, constant, def_options, unwrap

Handler = Callable[[Model, Node], None]


def _create_schema(model: Model, node: Node) -> None:
    """CREATE SCHEMA, and the statements inside it (which create their objects in it)."""
    name = node.get("schemaname") or (node.get("authrole") or {}).get("rolename", "")
    if not name:
        return
    if name not in model.schemas:
        model.schema_grants[name] = {}
        model.schema_origins[name] = model.here()
    model.schemas.add(name)
    model.refresh_creation_schema()
    elements = node.get("schemaElts") or ()
    if not elements:
        return
    path, creation = model.path, model.create_in
    model.path, model.create_in = [name, *path], name
    try:
        for element in elements:
            kind, inner = unwrap(element)
            handler = HANDLERS.get(kind)
            if handler is not None:
                # The element's own origin: where its first located node is.
                location = min_location(inner)
                if location >= 0:
                    model.start = location
                handler(model, inner)
    finally:
        model.path, model.create_in = path, creation


def _create_extension(model: Model, node: Node) -> None:
    """CREATE EXTENSION [SCHEMA s] (the objects it creates are not listed).

    Without SCHEMA, an extension goes where unqualified objects go (the extensions a schema
    usually installs are relocatable, their control files naming no schema).
    """
    name = node.get("extname", "")
    if name in model.extensions:
        return
    model.extensions.add(name)
    schema = def_options(node.get("options")).get("schema")
    model.extension_schemas[name] = str(constant(schema)) if schema else model.create_in


def _set(model: Model, node: Node) -> None:
    """SET / RESET search_path."""
    if node.get("name") != "search_path":
        return
    kind = node.get("kind")
    if kind == "VAR_SET_VALUE":
        model.set_path([str(constant(a)) for a in node.get("args") or ()])
    elif kind in ("VAR_SET_DEFAULT", "VAR_RESET"):
        model.set_path([model.default_schema])


# Each statement kind that changes a schema, and what applies it.
HANDLERS: dict[str, Handler] = {
    "CreateSchemaStmt": _create_schema,
    "CreateStmt": tables.create_table,
    "CreateTableAsStmt": tables.create_table_as,
    "SelectStmt": tables.select,
    "AlterTableStmt": alter.alter_table,
    "RenameStmt": renames.rename,
    "AlterObjectSchemaStmt": renames.set_schema,
    "DropStmt": drops.drop,
    "IndexStmt": indexes.create_index,
    "ViewStmt": views.create_view,
    "CreateFunctionStmt": functions.create_function,
    "AlterFunctionStmt": functions.alter_function,
    "CreateTrigStmt": triggers_policies.create_trigger,
    "CreatePolicyStmt": triggers_policies.create_policy,
    "AlterPolicyStmt": triggers_policies.alter_policy,
    "CreateEnumStmt": user_types.create_enum,
    "AlterEnumStmt": user_types.alter_enum,
    "CreateDomainStmt": user_types.create_domain,
    "AlterDomainStmt": user_types.alter_domain,
    "CompositeTypeStmt": user_types.create_composite,
    "CreateRangeStmt": user_types.create_range,
    "CreateSeqStmt": sequences.create_sequence,
    "AlterSeqStmt": sequences.alter_sequence,
    "CreateExtensionStmt": _create_extension,
    "CommentStmt": grants_comments.comment,
    "GrantStmt": grants_comments.grant,
    "AlterDefaultPrivilegesStmt": privileges.alter_default_privileges,
    "VariableSetStmt": _set,
}


class CatalogBuilder:
    """Applies statements one at a time (mutable state inside; frozen Catalog out)."""

    def __init__(self, default_schema: str = "public") -> None:
        """An empty database: schemas ``public`` and ``default_schema``, extension plpgsql."""
        self._model = Model(default_schema)

    def apply(self, statement: JsonStatement, script: JsonScript) -> None:
        """Apply one statement of ``script``; statements that change no schema are ignored.

        Neither the statement nor its parse tree is kept (the caller may free each tree once
        applied); the objects made keep the script's line index for their origins.
        """
        handler = HANDLERS.get(statement.kind)
        if handler is None:
            return
        model = self._model
        model.begin(statement, script)
        try:
            handler(model, statement.node)
        finally:
            model.end()

    def catalog(self) -> Catalog:
        """The schema as it stands after the statements applied so far."""
        model = self._model
        with gc_paused():
            tables = {k: model.tables[k].frozen() for k in sorted(model.tables)}
            # Partitioned tables and partitions are listed apart, as introspection lists them.
            partitioned = {k: t for k, t in tables.items() if t.partition_by is not None}
            partitions = {
                k: t
                for k, t in tables.items()
                if t.partition_of is not None and k not in partitioned
            }
            if partitioned or partitions:
                tables = {
                    k: t for k, t in tables.items() if k not in partitioned and k not in partitions
                }
            # The model keys each object by its catalog key: Catalog.of's order, without
            # its sort by each object's key property.
            return Catalog(
                schemas=frozenset(model.schemas),
                enums={k: model.enums[k][0] for k in sorted(model.enums)},
                sequences={k: Sequence(**model.sequences[k]) for k in sorted(model.sequences)},
                tables=tables,
                views={k: model.views[k].frozen() for k in sorted(model.views)},
                functions={k: model.functions[k].frozen() for k in sorted(model.functions)},
                extensions=frozenset(model.extensions),
                domains={k: model.domains[k].frozen() for k in sorted(model.domains)},
                composites={k: model.composites[k].frozen() for k in sorted(model.composites)},
                schema_grants={
                    k: grant_set(model.schema_grants[k])
                    for k in sorted(model.schema_grants)
                    if model.schema_grants[k] and k in model.schemas
                },
                extension_schemas={
                    k: model.extension_schemas[k]
                    for k in sorted(model.extension_schemas)
                    if k in model.extensions
                },
                partitioned=partitioned,
                partitions=partitions,
                default_privileges=frozenset(privileges.catalog_default_privileges(model)),
                schema_origins={
                    k: o for k, o in sorted(model.schema_origins.items()) if k in model.schemas
                },
            )


def build_catalog(scripts: Iterable[JsonScript], default_schema: str = "public") -> Catalog:
    """The catalog the statements of ``scripts`` build, applied in order."""
    builder = CatalogBuilder(default_schema)
    with gc_paused():
        for script in scripts:
            for statement in script.statements:
                builder.apply(statement, script)
    return builder.catalog()
