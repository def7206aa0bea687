"""CREATE TYPE (enum, composite, range), CREATE DOMAIN, ALTER TYPE ... VALUE.

Enums are listed with their labels in order; domains, composite and range types are not
listed, but columns of those types are qualified with the schema holding them.
"""

from __future__ import annotations

from plimsoll.db.catalog import EnumType
from plimsoll.db.ddl.model import Model
from plimsoll.db.sqljson import Node, strings


def create_enum(model: Model, node: Node) -> None:
    """CREATE TYPE ... AS ENUM."""
    key = model.new_type_key(strings(node.get("typeName")))
    schema, _dot, name = key.partition(".")
    labels = strings(node.get("vals"))
    model.enums[key] = (EnumType(schema, name, tuple(labels), model.here()), labels)
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
    model.enums[key] = (EnumType(enum.schema, enum.name, tuple(labels), enum.origin), labels)


def create_domain(model: Model, node: Node) -> None:
    """CREATE DOMAIN (a type name columns may use)."""
    model.types.add(model.new_type_key(strings(node.get("domainname"))))


def create_range(model: Model, node: Node) -> None:
    """CREATE TYPE ... AS RANGE (a type name columns may use)."""
    model.types.add(model.new_type_key(strings(node.get("typeName"))))


def create_composite(model: Model, node: Node) -> None:
    """CREATE TYPE ... AS (...): a row type, which takes a relation name."""
    schema, name = model.creation_key(node.get("typevar") or {})
    model.relations[f"{schema}.{name}"] = "c"
