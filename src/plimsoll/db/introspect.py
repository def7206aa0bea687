"""Reads a live database's schema into a :class:`~plimsoll.db.catalog.Catalog`.

One query per kind of object, each over the whole database (never one per table), inside one
read-only repeatable-read transaction so every query sees the same snapshot. The session's
``search_path`` is emptied first, as pg_dump does, so every name PostgreSQL prints back is
schema-qualified.

Left out: PostgreSQL's own schemas (``pg_catalog``, ``information_schema``, ``pg_toast``,
``pg_temp_*``), objects that belong to an extension, the migrator's tracking table and
ownership. Partitioned tables and partitions are read as tables are, into the catalog's
``partitioned`` and ``partitions``: a partitioned table with its key, a partition with its
parent and bound, each with only its own constraints, indexes and triggers (the copies of
its parent's that PostgreSQL makes are told apart by ``pg_constraint.conparentid`` and
``conislocal``, the index's own ``pg_inherits`` row and ``pg_trigger.tgparentid``, and kept
apart). A valid index of a partitioned table is printed without ``ONLY``: it is on every
partition, and the text creates it that way. Grants are the
privileges held by roles other than the owner; a function's and a schema's are read from
``acldefault`` when never changed, so a new function shows EXECUTE to PUBLIC, as it has.
Default privileges (``pg_default_acl``) are read as what they change from ``acldefault``:
the privileges they add, and the built-in ones they take away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from plimsoll.db.catalog import (
    EXCLUDED_TABLES,
    Attribute,
    Catalog,
    Column,
    CompositeType,
    Constraint,
    DefaultPrivilege,
    DomainConstraint,
    DomainType,
    EnumType,
    Function,
    Grant,
    IdentityOptions,
    Index,
    Policy,
    Table,
    Trigger,
    View,
    qualified,
)
from plimsoll.db.catalog import Sequence as SequenceObject
from plimsoll.db.connection import connect_url

_POLICY_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_IDENTITY = {"a": "ALWAYS", "d": "BY DEFAULT"}
# pg_attribute.attstorage / pg_type.typstorage, and pg_attribute.attcompression.
_STORAGE = {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
# pg_trigger.tgenabled: when the trigger fires, as ALTER TABLE sets it.
_TRIGGER_ENABLED = {"O": "ENABLE", "D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}
# pg_default_acl.defaclobjtype, as ALTER DEFAULT PRIVILEGES names it.
_DEFAULT_ACL_TYPES = {
    "r": "TABLES",
    "S": "SEQUENCES",
    "f": "FUNCTIONS",
    "T": "TYPES",
    "n": "SCHEMAS",
}
# pg_constraint.confdeltype / confupdtype.
_FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_VOLATILITY = {"v": "VOLATILE", "s": "STABLE", "i": "IMMUTABLE"}
# pg_trigger.tgtype bits (TRIGGER_TYPE_* in PostgreSQL's trigger.h).
_TRIGGER_ROW = 1
_TRIGGER_BEFORE = 2
_TRIGGER_INSTEAD = 64
_TRIGGER_EVENTS = ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE"))


def _visible(namespace: str, classid: str, oid: str) -> str:
    """The WHERE condition keeping user objects of the requested schemas, not extensions'."""
    return (
        f"{namespace}.nspname <> 'information_schema' AND {namespace}.nspname !~ '^pg_'"
        f" AND (%(schemas)s::text[] IS NULL OR {namespace}.nspname = ANY(%(schemas)s::text[]))"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend e"
        f" WHERE e.classid = '{classid}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
    )


_SCHEMAS = f"""
SELECT n.nspname, obj_description(n.oid, 'pg_namespace') FROM pg_namespace n
WHERE {_visible("n", "pg_namespace", "n.oid")}
"""

# What each ALTER DEFAULT PRIVILEGES entry adds to PostgreSQL's built-in defaults
# (acldefault; a schema's entry adds to the global ones, whose default is nothing), and
# the built-in privileges it takes away. acldefault names sequences 's', pg_default_acl 'S'.
_DEFAULT_PRIVILEGES = """
WITH entry AS (
    SELECT d.defaclrole, d.defaclobjtype, n.nspname, d.defaclacl,
           CASE WHEN d.defaclnamespace = 0
                THEN acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's'
                                     ELSE d.defaclobjtype END, d.defaclrole) END AS builtin
    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    WHERE d.defaclnamespace = 0 OR %(schemas)s::text[] IS NULL
       OR n.nspname = ANY(%(schemas)s::text[])
)
SELECT pg_get_userbyid(e.defaclrole)::text, e.defaclobjtype, e.nspname, x.privilege_type,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END,
       x.is_grantable, x.revoked
FROM entry e, LATERAL (
    (SELECT a.privilege_type, a.grantee, a.is_grantable, false AS revoked
     FROM aclexplode(e.defaclacl) a
     EXCEPT
     SELECT b.privilege_type, b.grantee, b.is_grantable, false FROM aclexplode(e.builtin) b)
    UNION ALL
    (SELECT b.privilege_type, b.grantee, b.is_grantable, true FROM aclexplode(e.builtin) b
     EXCEPT
     SELECT a.privilege_type, a.grantee, a.is_grantable, true FROM aclexplode(e.defaclacl) a)
) x
"""

# A schema never granted on has a NULL nspacl: its privileges are acldefault's.
_SCHEMA_GRANTS = f"""
SELECT n.nspname, a.privilege_type,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
       a.is_grantable
FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
WHERE {_visible("n", "pg_namespace", "n.oid")} AND a.grantee <> n.nspowner
"""

# Plain tables, partitioned tables (relkind p) and partitions, with their key or bound and
# the table a partition belongs to.
_TABLES = f"""
SELECT c.oid, n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity,
       obj_description(c.oid, 'pg_class'), c.relpersistence = 'u',
       ARRAY(SELECT o FROM (SELECT unnest(c.reloptions) AS o
                            UNION ALL
                            SELECT 'toast.' || unnest(tc.reloptions)
                            FROM pg_class tc WHERE tc.oid = c.reltoastrelid) s
             ORDER BY o),
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       pn.nspname, p.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT (c.relname = ANY(%(excluded)s::text[]))
  AND {_visible("n", "pg_class", "c.oid")}
"""

# The parents of each table, in INHERITS order (a partition's parent is its partitioned table).
_INHERITS = """
SELECT i.inhrelid, pn.nspname, p.relname
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE i.inhrelid = ANY(%(oids)s::oid[]) AND NOT c.relispartition
ORDER BY i.inhrelid, i.inhseqno
"""

# An identity's sequence depends on its column with deptype 'i'. The statistics target is
# -1 by default before PostgreSQL 17, NULL from 17 on. {compression} is attcompression
# (PostgreSQL 14 on; '' is the server's default).
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       col_description(a.attrelid, a.attnum), a.attislocal,
       (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
        FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
        JOIN pg_type ct ON ct.oid = a.atttypid
        WHERE co.oid = a.attcollation AND a.attcollation <> ct.typcollation),
       nullif(a.attstattarget, -1), a.attstorage, ty.typstorage, {compression},
       format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
       s.seqcache, s.seqcycle
FROM pg_attribute a
JOIN pg_type ty ON ty.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_depend sd ON a.attidentity <> '' AND sd.classid = 'pg_class'::regclass
      AND sd.refclassid = 'pg_class'::regclass AND sd.refobjid = a.attrelid
      AND sd.refobjsubid = a.attnum AND sd.deptype = 'i'
LEFT JOIN pg_sequence s ON s.seqrelid = sd.objid
WHERE a.attrelid = ANY(%(oids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_COMPRESSION_14 = "nullif(a.attcompression::text, '')"

# Key columns in key order (an exclusion constraint's expressions have no column, attnum 0);
# a check's conkey lists the columns its expression reads, which are not keys: none.
_CONSTRAINTS = """
SELECT k.conrelid, k.conname, k.contype, pg_get_constraintdef(k.oid),
       ARRAY(SELECT a.attname::text
             FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, position)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             WHERE k.contype <> 'c'
             ORDER BY u.position),
       rn.nspname, r.relname,
       ARRAY(SELECT a.attname::text
             FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, position)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum
             ORDER BY u.position),
       k.confdeltype, k.confupdtype, k.convalidated,
       CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid) END,
       obj_description(k.oid, 'pg_constraint'),
       t.relispartition AND (k.conparentid <> 0 OR NOT k.conislocal)
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
LEFT JOIN pg_class r ON r.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.conrelid = ANY(%(oids)s::oid[]) AND k.contype IN ('p', 'u', 'f', 'c', 'x')
  -- A foreign key referencing a partitioned table has internal rows on the same table, one
  -- per referenced partition (name_fkey1, ...), whose parent is the key itself: not listed.
  AND NOT EXISTS (SELECT 1 FROM pg_constraint pk
                  WHERE pk.oid = k.conparentid AND pk.conrelid = k.conrelid)
ORDER BY k.conrelid, k.conname
"""

# Indexes a constraint owns come and go with the constraint, so they are not listed apart.
# An index with a parent index (pg_inherits) is a partition's copy of its parent's.
# Each key is its column's name, or the expression as pg_get_indexdef prints that key
# (INCLUDE columns are not keys); indkey is an int2vector, subscripted from 0.
_INDEXES = """
SELECT i.indrelid, ic.relname,
       CASE WHEN ic.relkind = 'I' AND i.indisvalid
            THEN regexp_replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
            ELSE pg_get_indexdef(i.indexrelid) END,
       ARRAY(SELECT CASE WHEN i.indkey[k - 1] <> 0
                         THEN (SELECT a.attname::text FROM pg_attribute a
                               WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1])
                         ELSE pg_get_indexdef(i.indexrelid, k, true) END
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k),
       i.indisunique, am.amname, pg_get_expr(i.indpred, i.indrelid),
       obj_description(i.indexrelid, 'pg_class'),
       EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY(%(oids)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                  WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                    AND k.contype IN ('p', 'u', 'x'))
ORDER BY i.indrelid, ic.relname
"""

# A partition's copy of its parent's trigger has a tgparentid (PostgreSQL 13 on; before,
# the copies were internal triggers). {cloned} is that condition.
_TRIGGERS = """
SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid), t.tgtype, fn.nspname, f.proname,
       t.tgenabled, obj_description(t.oid, 'pg_trigger')
FROM pg_trigger t
JOIN pg_proc f ON f.oid = t.tgfoid
JOIN pg_namespace fn ON fn.oid = f.pronamespace
WHERE t.tgrelid = ANY(%(oids)s::oid[]) AND NOT t.tgisinternal AND NOT ({cloned})
ORDER BY t.tgrelid, t.tgname
"""

_POLICIES = """
SELECT p.polrelid, p.polname, p.polpermissive, p.polcmd,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
             FROM unnest(p.polroles) r ORDER BY 1),
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
       obj_description(p.oid, 'pg_policy')
FROM pg_policy p
WHERE p.polrelid = ANY(%(oids)s::oid[])
ORDER BY p.polrelid, p.polname
"""

# The owner's own privileges are implied by ownership; only grants to others are listed.
_GRANTS = """
SELECT c.oid, a.privilege_type,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
       a.is_grantable
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.oid = ANY(%(oids)s::oid[]) AND a.grantee <> c.relowner
"""

# Column-level privileges (attacl), keyed by (relation, column).
_COLUMN_GRANTS = """
SELECT a.attrelid, a.attname, x.privilege_type,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END,
       x.is_grantable
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid, aclexplode(a.attacl) x
WHERE a.attrelid = ANY(%(oids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
  AND x.grantee <> c.relowner
"""

_VIEWS = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind = 'm', pg_get_viewdef(c.oid),
       obj_description(c.oid, 'pg_class'), ARRAY(SELECT unnest(c.reloptions) ORDER BY 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {_visible("n", "pg_class", "c.oid")}
"""

_VIEW_DEPENDENCIES = """
SELECT DISTINCT rw.ev_class, rn.nspname, r.relname
FROM pg_rewrite rw
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                AND d.refclassid = 'pg_class'::regclass
JOIN pg_class r ON r.oid = d.refobjid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE rw.ev_class = ANY(%(oids)s::oid[]) AND d.refobjid <> rw.ev_class
"""

# {body} is prosrc, or (PostgreSQL 14 and later) the SQL-standard body when there is one.
_FUNCTIONS = f"""
SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
       pg_get_functiondef(p.oid), oidvectortypes(p.proargtypes),
       CASE WHEN p.prokind = 'p' THEN NULL ELSE pg_get_function_result(p.oid) END,
       p.prokind = 'p', obj_description(p.oid, 'pg_proc'),
       l.lanname, p.prosecdef, p.provolatile, p.proconfig, {{body}},
       (SELECT coalesce(jsonb_agg(jsonb_build_array(
                    a.privilege_type,
                    CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                         ELSE pg_get_userbyid(a.grantee)::text END,
                    a.is_grantable)), '[]'::jsonb)
        FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        WHERE a.grantee <> p.proowner)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE p.prokind IN ('f', 'p') AND {_visible("n", "pg_proc", "p.oid")}
"""
_BODY = "p.prosrc"
_BODY_14 = (
    "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END"
)

_EXTENSIONS = """
SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
"""

# Identity columns' sequences (dependency 'i') are part of their column, not objects apart.
_SEQUENCES = f"""
SELECT c.oid, obj_description(c.oid, 'pg_class'), n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
       s.seqmin, s.seqmax, s.seqcache, s.seqcycle, owner.nspname, owner.relname, owner.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_sequence s ON s.seqrelid = c.oid
LEFT JOIN LATERAL (
    SELECT tn.nspname, t.relname, a.attname
    FROM pg_depend d
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
    LIMIT 1
) owner ON true
WHERE c.relkind = 'S' AND {_visible("n", "pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend i
                  WHERE i.classid = 'pg_class'::regclass AND i.objid = c.oid
                    AND i.deptype = 'i')
"""

_ENUMS = f"""
SELECT n.nspname, t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder),
       obj_description(t.oid, 'pg_type')
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_enum e ON e.enumtypid = t.oid
WHERE {_visible("n", "pg_type", "t.oid")}
GROUP BY t.oid, n.nspname, t.typname
"""

# A domain's default is printed from its tree (typdefault is the text of the creating
# session's search path); its NOT NULL is typnotnull (a constraint of its own from 17 on).
_DOMAINS = f"""
SELECT t.oid, n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod),
       pg_get_expr(t.typdefaultbin, 0), t.typnotnull, obj_description(t.oid, 'pg_type')
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND {_visible("n", "pg_type", "t.oid")}
"""

_DOMAIN_CONSTRAINTS = """
SELECT k.contypid, k.conname, pg_get_constraintdef(k.oid), pg_get_expr(k.conbin, 0),
       k.convalidated
FROM pg_constraint k
WHERE k.contypid = ANY(%(oids)s::oid[]) AND k.contype = 'c'
ORDER BY k.contypid, k.conname
"""

# Composite types made by CREATE TYPE ... AS (a table's row type has relkind 'r').
_COMPOSITES = f"""
SELECT t.oid, n.nspname, t.typname, obj_description(t.oid, 'pg_type'),
       ARRAY(SELECT a.attname::text
             FROM pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum),
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod)
             FROM pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_class r ON r.oid = t.typrelid
WHERE t.typtype = 'c' AND r.relkind = 'c' AND {_visible("n", "pg_type", "t.oid")}
"""


def _grouped(rows: Iterable[Sequence[Any]]) -> dict[Any, list[Sequence[Any]]]:
    """Rows keyed by their first column (an oid, or a name)."""
    out: dict[Any, list[Sequence[Any]]] = defaultdict(list)
    for row in rows:
        out[row[0]].append(row)
    return out


def introspect(
    conninfo: str,
    schemas: list[str] | None = None,
    *,
    exclude_tables: Sequence[str] = EXCLUDED_TABLES,
) -> Catalog:
    """The schema of the database at ``conninfo`` (only ``schemas`` when given).

    Raises CannotRunError, without the password, when the database cannot be reached.
    """
    conn = connect_url(conninfo, connect_timeout=5)
    with conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            conn.execute("SELECT pg_catalog.set_config('search_path', '', true)")
            return _read(conn, schemas, list(exclude_tables))


def _read(conn: psycopg.Connection[Any], schemas: list[str] | None, excluded: list[str]) -> Catalog:
    params: dict[str, Any] = {"schemas": schemas, "excluded": excluded}
    schema_rows = conn.execute(_SCHEMAS, params).fetchall()
    found_schemas = {name for name, _comment in schema_rows}
    schema_grants = _grouped(conn.execute(_SCHEMA_GRANTS, params))
    tables = conn.execute(_TABLES, params).fetchall()
    views = conn.execute(_VIEWS, params).fetchall()
    sequences = conn.execute(_SEQUENCES, params).fetchall()
    table_oids = [row[0] for row in tables]
    view_oids = [row[0] for row in views]
    by_table = {"oids": table_oids}
    compression = _COMPRESSION_14 if conn.info.server_version >= 140000 else "NULL"
    columns = _grouped(conn.execute(_COLUMNS.format(compression=compression), by_table))
    column_grants: dict[tuple[int, str], list[Sequence[Any]]] = defaultdict(list)
    for oid, column, *grant in conn.execute(_COLUMN_GRANTS, by_table):
        column_grants[(oid, column)].append((oid, *grant))
    constraints = _grouped(conn.execute(_CONSTRAINTS, by_table))
    # A materialized view's indexes are read as a table's are.
    indexes = _grouped(conn.execute(_INDEXES, {"oids": table_oids + view_oids}))
    cloned = "t.tgparentid <> 0" if conn.info.server_version >= 130000 else "false"
    triggers = _grouped(conn.execute(_TRIGGERS.format(cloned=cloned), by_table))
    policies = _grouped(conn.execute(_POLICIES, by_table))
    relation_oids = table_oids + view_oids + [row[0] for row in sequences]
    grants = _grouped(conn.execute(_GRANTS, {"oids": relation_oids}))
    dependencies = _grouped(conn.execute(_VIEW_DEPENDENCIES, {"oids": view_oids}))
    body = _BODY_14 if conn.info.server_version >= 140000 else _BODY
    functions = conn.execute(_FUNCTIONS.format(body=body), params).fetchall()
    domains = conn.execute(_DOMAINS, params).fetchall()
    inherits = _grouped(conn.execute(_INHERITS, by_table))
    checks = _grouped(conn.execute(_DOMAIN_CONSTRAINTS, {"oids": [row[0] for row in domains]}))
    plain: list[Table] = []
    partitioned: list[Table] = []
    partitions: list[Table] = []
    for oid, schema, name, rls, forced, comment, unlogged, options, key, bound, *parent in tables:
        own_constraints = [r for r in constraints[oid] if not r[-1]]
        own_indexes = [r for r in indexes[oid] if not r[-1]]
        table = Table(
            schema=schema,
            name=name,
            columns=tuple(_column(row, column_grants) for row in columns[oid]),
            constraints=tuple(_constraint(row) for row in own_constraints),
            indexes=tuple(_index(row) for row in own_indexes),
            triggers=tuple(_trigger(row) for row in triggers[oid]),
            policies=tuple(_policy(row) for row in policies[oid]),
            grants=_grants(grants[oid]),
            comment=comment,
            rls_enabled=rls,
            rls_forced=forced,
            unlogged=unlogged,
            options=tuple(options),
            inherits=tuple(qualified(r[1], r[2]) for r in inherits[oid]),
            partition_by=key,
            partition_of=qualified(parent[0], parent[1]) if parent[1] is not None else None,
            bound=bound,
            inherited_constraints=tuple(_constraint(r) for r in constraints[oid] if r[-1]),
            inherited_indexes=tuple(_index(r) for r in indexes[oid] if r[-1]),
        )
        if key is not None:
            partitioned.append(table)
        elif bound is not None:
            partitions.append(table)
        else:
            plain.append(table)
    return Catalog.of(
        schemas=found_schemas,
        schema_grants={
            schema: _grants(rows)
            for schema, rows in schema_grants.items()
            if schema in found_schemas
        },
        schema_comments={name: comment for name, comment in schema_rows if comment is not None},
        default_privileges=[
            _default_privilege(row) for row in conn.execute(_DEFAULT_PRIVILEGES, params)
        ],
        enums=[
            EnumType(s, n, tuple(labels), comment)
            for s, n, labels, comment in conn.execute(_ENUMS, params)
        ],
        domains=[_domain(row, checks[row[0]]) for row in domains],
        composites=[_composite(row) for row in conn.execute(_COMPOSITES, params)],
        sequences=[_sequence(row, grants[row[0]]) for row in sequences],
        tables=plain,
        partitioned=partitioned,
        partitions=partitions,
        views=[
            View(
                schema=schema,
                name=name,
                definition=definition,
                materialized=materialized,
                comment=comment,
                grants=_grants(grants[oid]),
                depends_on=tuple(sorted(qualified(r[1], r[2]) for r in dependencies[oid])),
                indexes=tuple(_index(row) for row in indexes[oid]),
                options=tuple(options),
            )
            for oid, schema, name, materialized, definition, comment, options in views
        ],
        functions=[_function(row) for row in functions],
        extension_schemas=dict(conn.execute(_EXTENSIONS).fetchall()),
    )


def _column(row: Sequence[Any], grants: dict[tuple[int, str], list[Sequence[Any]]]) -> Column:
    (
        oid,
        name,
        type_,
        nullable,
        default,
        identity,
        generated,
        comment,
        local,
        collation,
        statistics,
        storage,
        type_storage,
        compression,
        *sequence,
    ) = row
    return Column(
        name=name,
        type=type_,
        nullable=nullable,
        default=default,
        identity=_IDENTITY.get(identity or ""),
        generated=generated == "s",
        comment=comment,
        grants=_grants(grants.get((oid, name), ())),
        collation=collation,
        identity_options=IdentityOptions.of(*sequence) if sequence[0] is not None else None,
        statistics=statistics,
        storage=_STORAGE[storage] if storage != type_storage else None,
        compression=_COMPRESSION.get(compression or ""),
        local=local,
        type_storage=_STORAGE.get(type_storage, ""),
    )


def _constraint(row: Sequence[Any]) -> Constraint:
    (
        _oid,
        name,
        kind,
        definition,
        columns,
        ref_schema,
        ref_name,
        ref_columns,
        on_delete,
        on_update,
        validated,
        expression,
        comment,
        _inherited,
    ) = row
    return Constraint(
        name=name,
        kind=kind,
        definition=definition,
        columns=tuple(columns),
        references=qualified(ref_schema, ref_name) if ref_name is not None else None,
        ref_columns=tuple(ref_columns),
        on_delete=_FK_ACTIONS.get(on_delete, "NO ACTION"),
        on_update=_FK_ACTIONS.get(on_update, "NO ACTION"),
        validated=validated,
        expression=expression,
        comment=comment,
    )


def _index(row: Sequence[Any]) -> Index:
    _oid, name, definition, columns, unique, method, predicate, comment, _inherited = row
    return Index(
        name=name,
        definition=definition,
        columns=tuple(columns),
        unique=unique,
        method=method,
        predicate=predicate,
        comment=comment,
    )


def _trigger(row: Sequence[Any]) -> Trigger:
    _oid, name, definition, bits, function_schema, function_name, enabled, comment = row
    timing = "AFTER"
    if bits & _TRIGGER_BEFORE:
        timing = "BEFORE"
    elif bits & _TRIGGER_INSTEAD:
        timing = "INSTEAD OF"
    return Trigger(
        name=name,
        definition=definition,
        timing=timing,
        events=tuple(event for bit, event in _TRIGGER_EVENTS if bits & bit),
        row_level=bool(bits & _TRIGGER_ROW),
        function=qualified(function_schema, function_name),
        enabled=_TRIGGER_ENABLED[enabled],
        comment=comment,
    )


def _function(row: Sequence[Any]) -> Function:
    (
        schema,
        name,
        args,
        definition,
        types,
        returns,
        procedure,
        comment,
        language,
        security_definer,
        volatility,
        config,
        body,
        function_grants,
    ) = row
    return Function(
        schema=schema,
        name=name,
        identity_args=args,
        definition=definition,
        argument_types=types,
        returns=returns,
        procedure=procedure,
        comment=comment,
        language=language,
        security_definer=security_definer,
        volatility=_VOLATILITY.get(volatility, "VOLATILE"),
        config=tuple(config or ()),
        body=body,
        grants=frozenset(Grant(p, g, o) for p, g, o in function_grants),
    )


def _policy(row: Sequence[Any]) -> Policy:
    _oid, name, permissive, command, roles, using, with_check, comment = row
    return Policy(
        name=name,
        permissive=permissive,
        command=_POLICY_COMMANDS[command],
        roles=tuple(roles),
        using=using,
        with_check=with_check,
        comment=comment,
    )


def _default_privilege(row: Sequence[Any]) -> DefaultPrivilege:
    role, object_type, schema, privilege, grantee, grantable, revoked = row
    return DefaultPrivilege(
        role=role,
        object_type=_DEFAULT_ACL_TYPES[object_type],
        privilege=privilege,
        grantee=grantee,
        grantable=grantable,
        schema=schema,
        revoked=revoked,
    )


def _grants(rows: Iterable[Sequence[Any]]) -> frozenset[Grant]:
    return frozenset(
        Grant(privilege, grantee, grantable) for _o, privilege, grantee, grantable in rows
    )


def _sequence(row: Sequence[Any], grants: Iterable[Sequence[Any]]) -> SequenceObject:
    (
        _oid,
        comment,
        schema,
        name,
        data_type,
        start,
        increment,
        minimum,
        maximum,
        cache,
        cycle,
        *owner,
    ) = row
    owned_by = (owner[0], owner[1], owner[2]) if owner[0] is not None else None
    return SequenceObject(
        schema,
        name,
        data_type,
        start,
        increment,
        minimum,
        maximum,
        cache,
        cycle,
        owned_by,
        comment=comment,
        grants=_grants(grants),
    )


def _domain(row: Sequence[Any], checks: Iterable[Sequence[Any]]) -> DomainType:
    _oid, schema, name, base_type, default, not_null, comment = row
    return DomainType(
        schema=schema,
        name=name,
        base_type=base_type,
        default=default,
        not_null=not_null,
        constraints=tuple(
            DomainConstraint(c_name, definition, expression, validated)
            for _o, c_name, definition, expression, validated in checks
        ),
        comment=comment,
    )


def _composite(row: Sequence[Any]) -> CompositeType:
    _oid, schema, name, comment, names, types = row
    return CompositeType(
        schema=schema,
        name=name,
        attributes=tuple(Attribute(n, t) for n, t in zip(names, types, strict=True)),
        comment=comment,
    )
