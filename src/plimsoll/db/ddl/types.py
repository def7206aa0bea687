"""Type names as ``format_type`` prints them, for columns, arguments and sequences.

:func:`plimsoll.db.sqljson.type_name` spells a TypeName; this module adds what a build needs
around it: which names are PostgreSQL's own (an unqualified type outside them is a user's or
an extension's, printed schema-qualified), a hashable key so a schema's few thousand
repetitions of ``bigint`` are spelled once, and the bare type of an argument or result
(``format_type`` drops modifiers there).
"""

from __future__ import annotations

import re
from typing import Any

from plimsoll.db.sqljson import Node

# Every type name of pg_catalog a schema may write (PostgreSQL 15's, arrays and catalog row
# types left out): an unqualified type outside this set is a user's or an extension's type,
# which format_type prints schema-qualified.
PG_TYPES = frozenset(
    """
    aclitem any anyarray anycompatible anycompatiblearray anycompatiblemultirange
    anycompatiblenonarray anycompatiblerange anyelement anyenum anymultirange anynonarray
    anyrange bit bool box bpchar bytea char cid cidr circle cstring date datemultirange
    daterange event_trigger fdw_handler float4 float8 gtsvector index_am_handler inet int2
    int2vector int4 int4multirange int4range int8 int8multirange int8range internal interval
    json jsonb jsonpath language_handler line lseg macaddr macaddr8 money name numeric
    nummultirange numrange oid oidvector path pg_brin_bloom_summary
    pg_brin_minmax_multi_summary pg_ddl_command pg_dependencies pg_lsn pg_mcv_list
    pg_ndistinct pg_node_tree pg_snapshot point polygon record refcursor regclass regcollation
    regconfig regdictionary regnamespace regoper regoperator regproc regprocedure regrole
    regtype table_am_handler text tid time timestamp timestamptz timetz trigger tsm_handler
    tsmultirange tsquery tsrange tstzmultirange tstzrange tsvector txid_snapshot unknown uuid
    varbit varchar void xid xid8 xml
    integer smallint bigint real boolean decimal
    """.split()
)
# Relation kinds that are also row types a column may name: tables, views, materialized
# views, composite types and left-out (partitioned) tables.
ROW_TYPE_KINDS = frozenset({"r", "v", "m", "c", "p"})
# The bounds of the integer types (a sequence's defaults, a serial's sequence).
INTEGER_MAXIMUM = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}
INTEGER_MINIMUM = {"smallint": -32768, "integer": -2147483648, "bigint": -9223372036854775808}

_TYPMODS = re.compile(r"\([^)]*\)")


def type_key(type_node: Node) -> Any:
    """A hashable key for a TypeName (names, constant modifiers, array depth), or None.

    Schemas repeat a few types thousands of times; their text is computed once per key.
    ``pg_catalog.name`` and ``name`` share a key: only PostgreSQL's own types are cached, and
    they print the same qualified or not.
    """
    try:
        names = type_node["names"]
        if len(names) == 1:
            key: Any = names[0]["String"]["sval"]
        elif len(names) == 2:
            # The usual shape: pg_catalog.int8, as the grammar writes bigint. Its key is the
            # bare name's, as pg_catalog's types print the same either way (a build caches
            # only PostgreSQL's own types).
            schema = names[0]["String"]["sval"]
            key = names[1]["String"]["sval"]
            if schema != "pg_catalog":
                key = (schema, key)
        else:
            key = tuple([item["String"]["sval"] for item in names])
        if "typmods" in type_node:
            values = []
            for modifier in type_node["typmods"]:
                value = modifier["A_Const"]["ival"]
                values.append(value.get("ival", 0) if isinstance(value, dict) else value)
            key = (key, tuple(values))
        if "arrayBounds" in type_node:
            key = (key, len(type_node["arrayBounds"]))
        return key
    except (KeyError, TypeError):
        return None


def bare(type_text: str) -> str:
    """A type without its modifiers, as ``format_type`` prints an argument or result type."""
    if type_text.startswith("interval "):
        # An interval's field range is a modifier too.
        return "interval" + type_text[type_text.index("[") :] if "[" in type_text else "interval"
    return _TYPMODS.sub("", type_text) if "(" in type_text else type_text
