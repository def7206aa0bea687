"""CREATE TYPE (enum, composite, range), CREATE / ALTER DOMAIN, ALTER TYPE ... VALUE and
ALTER TYPE ... ATTRIBUTE.

Enums are listed with their labels in order; domains with their base type, default, NOT NULL
and CHECK constraints (unnamed ones named ``<domain>_check``, ``<domain>_check1``... as
PostgreSQL names them, avoiding every constraint name of the schema); composite types with
their attributes. Range types are not listed, but columns of every user type are qualified
with the schema holding it.
"""

from __future__ import annotations

import dataclasses

from plimsoll.db.catalog import (
    Attribute,
    CompositeType,
    DomainConstraint,
    DomainType,
    EnumType,
    Origin,
)
from plimsoll.db.ddl.expressions import default_text, loose_default_text
from plimsoll.db.ddl.model import Model
from plimsoll.db.sqljson import Node, strings, unwrap


class DomainDraft:
    """A domain being built."""

    def __init__(self, schema: str, name: str, base_type: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        self.base_type = base_type
        self.default: str | None = None
        self.not_null = False
        self.constraints: dict[str, DomainConstraint] = {}
        self.comment: str | None = None
        self.origin = origin

    def frozen(self) -> DomainType:
        """The catalog's DomainType."""
        return DomainType(
            schema=self.schema,
            name=self.name,
            base_type=self.base_type,
            default=self.default,
            not_null=self.not_null,
            constraints=tuple(self.constraints[n] for n in sorted(self.constraints)),
            comment=self.comment,
            origin=self.origin,
        )


class CompositeDraft:
    """A composite type being built."""

    def __init__(self, schema: str, name: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        self.attributes: list[Attribute] = []
        self.comment: str | None = None
        self.origin = origin

    def frozen(self) -> CompositeType:
        """The catalog's CompositeType."""
        return CompositeType(
            schema=self.schema,
            name=self.name,
            attributes=tuple(self.attributes),
            comment=self.comment,
            origin=self.origin,
        )


def create_enum(model: Model, node: Node) -> None:
    """CREATE TYPE ... AS ENUM."""
    key = model.new_type_key(strings(node.get("typeName")))
    schema, _dot, name = key.partition(".")
    labels = strings(node.get("vals"))
    model.enums[key] = (EnumType(schema, name, tuple(labels), origin=model.here()), labels)
    model.types.add(key)


def alter_enum(model: Model, node: Node) -> None:
    """ALTER TYPE ... ADD VALUE [BEFORE | AFTER] / RENAME VALUE."""
    key = model.type_names_key(strings(node.get("typeName")))
    found = model.enums.get(key)
    if found is None:
        return
    enum, labels = found
    new = node.get("newVal", "")
    old = node.get("oldVal")
    if old is not None:
        labels = [new if label == old else label for label in labels]
    elif new not in labels:
        neighbour = node.get("newValNeighbor")
        if neighbour in labels:
            position = labels.index(neighbour) + (1 if node.get("newValIsAfter") else 0)
            labels.insert(position, new)
        else:
            labels.append(new)
    model.enums[key] = (dataclasses.replace(enum, labels=tuple(labels)), labels)


def set_type_comment(model: Model, key: str, text: str | None) -> None:
    """COMMENT ON TYPE / DOMAIN: an enum's, a domain's or a composite type's comment."""
    found = model.enums.get(key)
    if found is not None:
        enum, labels = found
        model.enums[key] = (dataclasses.replace(enum, comment=text), labels)
    elif key in model.domains:
        model.domains[key].comment = text
    elif key in model.composites:
        model.composites[key].comment = text


def create_domain(model: Model, node: Node) -> None:
    """CREATE DOMAIN: its base type, DEFAULT, [NOT] NULL and CHECK constraints."""
    key = model.new_type_key(strings(node.get("domainname")))
    schema, _dot, name = key.partition(".")
    domain = DomainDraft(schema, name, model.type_text(node.get("typeName")), model.here())
    model.types.add(key)
    model.domains[key] = domain
    for item in node.get("constraints") or ():
        constraint = unwrap(item)[1]
        kind = constraint.get("contype")
        if kind == "CONSTR_DEFAULT":
            domain.default = default_text(model, constraint, domain.base_type)
        elif kind == "CONSTR_NOTNULL":
            domain.not_null = True
        elif kind == "CONSTR_NULL":
            domain.not_null = False
        elif kind == "CONSTR_CHECK":
            _add_check(model, domain, constraint, validate=True)


def _add_check(model: Model, domain: DomainDraft, node: Node, *, validate: bool) -> None:
    """A CHECK on a domain, named as PostgreSQL names it when unnamed."""
    name = node.get("conname") or model.choose_constraint_name(
        domain.schema, domain.name, None, "check"
    )
    expression = model.keyword_group(node, "CHECK")
    validated = validate or not node.get("skip_validation")
    definition = f"CHECK ({expression})" + ("" if validated else " NOT VALID")
    previous = domain.constraints.get(name)
    if previous is None:
        model.take_constraint_name(domain.schema, name)
    domain.constraints[name] = DomainConstraint(
        name, definition, expression, validated, model.at(node)
    )


def alter_domain(model: Model, node: Node) -> None:
    """ALTER DOMAIN: SET / DROP DEFAULT, SET / DROP NOT NULL, ADD / DROP / VALIDATE
    CONSTRAINT."""
    domain = model.domains.get(model.type_names_key(strings(node.get("typeName"))))
    if domain is None:
        return
    action = node.get("subtype")
    if action == "T":
        expression = node.get("def")
        domain.default = (
            loose_default_text(model, expression, domain.base_type) if expression else None
        )
    elif action in ("N", "O"):
        domain.not_null = action == "O"
    elif action == "C":
        constraint = unwrap(node.get("def"))[1]
        if constraint.get("contype") == "CONSTR_CHECK":
            _add_check(model, domain, constraint, validate=False)
    elif action == "X":
        name = node.get("name", "")
        if domain.constraints.pop(name, None) is not None:
            model.free_constraint_name(domain.schema, name)
    elif action == "V":
        name = node.get("name", "")
        found = domain.constraints.get(name)
        if found is not None:
            domain.constraints[name] = dataclasses.replace(
                found,
                definition=found.definition.removesuffix(" NOT VALID"),
                validated=True,
            )


def drop_domain_or_composite(model: Model, key: str) -> None:
    """Forget a domain (and its constraint names) or a composite type."""
    domain = model.domains.pop(key, None)
    if domain is not None:
        for name in domain.constraints:
            model.free_constraint_name(domain.schema, name)
    model.composites.pop(key, None)


def create_range(model: Model, node: Node) -> None:
    """CREATE TYPE ... AS RANGE (a type name columns may use)."""
    model.types.add(model.new_type_key(strings(node.get("typeName"))))


def create_composite(model: Model, node: Node) -> None:
    """CREATE TYPE ... AS (...): a row type, which takes a relation name."""
    schema, name = model.creation_key(node.get("typevar") or {})
    key = f"{schema}.{name}"
    model.relations[key] = "c"
    composite = CompositeDraft(schema, name, model.here())
    for item in node.get("coldeflist") or ():
        definition = unwrap(item)[1]
        type_text = model.type_text(definition.get("typeName"))
        composite.attributes.append(Attribute(definition.get("colname", ""), type_text))
    model.composites[key] = composite


def alter_composite(model: Model, key: str, commands: list[Node]) -> None:
    """ALTER TYPE ... ADD / DROP / ALTER ATTRIBUTE on a composite type."""
    composite = model.composites.get(key)
    if composite is None:
        return
    for command in commands:
        kind = command.get("subtype")
        if kind == "AT_AddColumn":
            definition = unwrap(command.get("def"))[1]
            type_text = model.type_text(definition.get("typeName"))
            composite.attributes.append(Attribute(definition.get("colname", ""), type_text))
        elif kind == "AT_DropColumn":
            name = command.get("name", "")
            composite.attributes = [a for a in composite.attributes if a.name != name]
        elif kind == "AT_AlterColumnType":
            name = command.get("name", "")
            type_text = model.type_text(unwrap(command.get("def"))[1].get("typeName"))
            composite.attributes = [
                Attribute(a.name, type_text) if a.name == name else a for a in composite.attributes
            ]


def rename_composite(model: Model, key: str, schema: str, name: str) -> None:
    """A composite type renamed or moved."""
    composite = model.composites.pop(key, None)
    if composite is not None:
        composite.schema, composite.name = schema, name
        model.composites[f"{schema}.{name}"] = composite
