"""CREATE / ALTER SEQUENCE, with PostgreSQL's defaults for what a statement leaves out.

The bounds follow the sequence's type and direction (an ascending ``integer`` sequence runs
from 1 to 2147483647); ALTER SEQUENCE ... AS moves a bound that was at the old type's limit
to the new type's, as PostgreSQL does.
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.ddl.drops import make_room
from plimsoll.db.ddl.expressions import integer
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.privileges import default_privileges
from plimsoll.db.ddl.state import grant_set
from plimsoll.db.ddl.types import INTEGER_MAXIMUM, INTEGER_MINIMUM, bare
from plimsoll.db.sqljson import Node, constant, def_options, strings, unwrap


def create_sequence(model: Model, node: Node) -> None:
    """CREATE SEQUENCE."""
    relation = node.get("sequence") or {}
    if relation.get("relpersistence") == "t":
        return
    schema, name = model.creation_key(relation)
    key = f"{schema}.{name}"
    if not make_room(model, key, bool(node.get("if_not_exists"))):
        return
    sequence: dict[str, Any] = {
        "schema": schema,
        "name": name,
        "data_type": "bigint",
        "start": None,
        "increment": 1,
        "minimum": None,
        "maximum": None,
        "cache": 1,
        "cycle": False,
        "owned_by": None,
        "comment": None,
        "grants": grant_set(default_privileges(model, "SEQUENCES", schema) or {}),
        "origin": model.here(),
    }
    _sequence_options(model, sequence, node.get("options"), creating=True)
    model.sequences[key] = sequence
    model.relations[key] = "S"


def alter_sequence(model: Model, node: Node) -> None:
    """ALTER SEQUENCE's options."""
    sequence = model.sequences.get(model.relation(node.get("sequence"), ("S",)))
    if sequence is not None:
        _sequence_options(model, sequence, node.get("options"), creating=False)


def _sequence_options(
    model: Model, sequence: dict[str, Any], options: Any, *, creating: bool
) -> None:
    """CREATE/ALTER SEQUENCE options, with PostgreSQL's defaults for what is left out."""
    given = def_options(options)
    old_type = sequence["data_type"]
    if "as" in given:
        sequence["data_type"] = bare(model.type_text(unwrap(given["as"])[1]))
    data_type = sequence["data_type"]
    if "increment" in given:
        sequence["increment"] = integer(given["increment"], 1)
    ascending = sequence["increment"] > 0
    type_max = INTEGER_MAXIMUM.get(data_type, INTEGER_MAXIMUM["bigint"])
    type_min = INTEGER_MINIMUM.get(data_type, INTEGER_MINIMUM["bigint"])
    # A bound at the old type's limit follows a new type, as ALTER SEQUENCE AS does.
    if data_type != old_type and not creating:
        if sequence["maximum"] == INTEGER_MAXIMUM.get(old_type):
            sequence["maximum"] = None
        if sequence["minimum"] == INTEGER_MINIMUM.get(old_type):
            sequence["minimum"] = None
    for option, field_name in (("minvalue", "minimum"), ("maxvalue", "maximum")):
        if option in given:
            value = given[option]
            sequence[field_name] = None if value is None else integer(value, 0)
    if sequence["minimum"] is None:
        sequence["minimum"] = 1 if ascending else type_min
    if sequence["maximum"] is None:
        sequence["maximum"] = type_max if ascending else -1
    if "start" in given:
        sequence["start"] = integer(given["start"], 1)
    elif sequence["start"] is None:
        sequence["start"] = sequence["minimum"] if ascending else sequence["maximum"]
    if "cache" in given:
        sequence["cache"] = integer(given["cache"], 1)
    if "cycle" in given:
        sequence["cycle"] = bool(constant(given["cycle"]))
    if "owned_by" in given:
        parts = strings(unwrap(given["owned_by"])[1].get("items"))
        if len(parts) >= 2 and parts[-1] != "none":
            table_key = model.names_key(parts[:-1], ("r",))
            schema, _dot, table = table_key.partition(".")
            sequence["owned_by"] = (schema, table, parts[-1])
        else:
            sequence["owned_by"] = None
