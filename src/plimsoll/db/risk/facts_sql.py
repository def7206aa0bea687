"""The catalog queries behind :mod:`plimsoll.db.risk.facts`, as text.

Three queries, whatever the size of the catalog: the server and its load (:data:`SERVER`),
the relations the migrations name (:data:`TABLES`, with the size expressions of
:data:`SIZES_LIVE` or, when a table is locked, :data:`SIZES_CATALOG`), and, only when a
migration sets ``search_path``, where its unqualified names live (:data:`SCHEMAS`).

Relations reached through dependencies (a foreign key's other table, a view) are named as a
migration would name them: bare when visible on the ``search_path``, else ``schema.name``
(never quoted: :func:`plimsoll.db.risk.facts.identifier` quotes them for ``to_regclass``).
"""

from __future__ import annotations


def _name(oid: str) -> str:
    """The SQL for the name of the relation ``oid`` as a migration would write it."""
    return (
        "(SELECT CASE WHEN pg_table_is_visible(x.oid) THEN x.relname::text"
        " ELSE ns.nspname || '.' || x.relname END FROM pg_class x"
        f" JOIN pg_namespace ns ON ns.oid = x.relnamespace WHERE x.oid = {oid})"
    )


# The session TimeZone has a fixed offset of zero when the wall clock there equals UTC at
# every instant sampled weekly over four centuries (so daylight saving time, and a zone's
# local mean time before its first transition, show). This is PostgreSQL's own test for
# skipping the rewrite of timestamp <-> timestamptz (TimestampTimestampTzRequiresRewrite:
# every offset the zone has ever used is zero), asked of the server's time zone database.
ZERO_OFFSET = """
CASE WHEN upper({zone}) IN ('UTC', 'ETC/UTC') THEN true ELSE
  (SELECT bool_and((t AT TIME ZONE {zone}) = (t AT TIME ZONE 'UTC'))
     FROM generate_series(timestamptz '1800-01-01 00:00+00', timestamptz '2200-01-01 00:00+00',
                          interval '7 days') AS t) END
"""

SERVER = f"""
SELECT current_setting('server_version_num')::int,
       current_setting('server_version'),
       current_setting('max_connections')::int,
       current_setting('TimeZone'),
       current_database(),
       (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()),
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       (SELECT json_agg(json_build_array(pid, extract(epoch FROM now() - xact_start)::float8,
                                         state, left(query, 200)) ORDER BY xact_start)
          FROM pg_stat_activity
         WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()
           AND backend_type = 'client backend'
           AND xact_start < now() - make_interval(secs => %(long)s)),
       (SELECT json_object_agg(proname, volatility) FROM (
          SELECT proname, max(provolatile::text) AS volatility
            FROM pg_proc WHERE proname = ANY(%(functions)s) GROUP BY proname) AS p),
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
         OR pg_has_role('pg_read_all_stats', 'MEMBER'),
       {ZERO_OFFSET.format(zone="current_setting('TimeZone')")}
"""

# Whether each of the time zones a migration sets has a fixed offset of zero.
ZONES = f"""
SELECT z, {ZERO_OFFSET.format(zone="z")} FROM unnest(%(zones)s::text[]) AS z
"""

SIZES_LIVE = """
       CASE WHEN c.relkind = 'p' THEN
            (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)::bigint
               FROM pg_partition_tree(c.oid) AS t)
            ELSE pg_relation_size(c.oid) END,
       CASE WHEN c.relkind = 'p' THEN
            (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)::bigint
               FROM pg_partition_tree(c.oid) AS t)
            ELSE pg_total_relation_size(c.oid) END,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_indexes_size(c.oid) ELSE 0 END,
"""
# Without locks: the sizes as of the last VACUUM or ANALYZE.
SIZES_CATALOG = """
       c.relpages::bigint * current_setting('block_size')::bigint,
       (c.relpages::bigint + coalesce((SELECT sum(i.relpages) FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0)::bigint)
          * current_setting('block_size')::bigint,
       coalesce((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid = c.oid), 0)::bigint * current_setting('block_size')::bigint,
"""


def _columns(attnums: str) -> str:
    return (
        "(SELECT coalesce(json_agg(a.attname ORDER BY u.o), '[]') FROM unnest("
        f"{attnums}) WITH ORDINALITY AS u(n, o) JOIN pg_attribute a"
        " ON a.attrelid = c.oid AND a.attnum = u.n)"
    )


# What depends on the relation (columns 20 to 24 of TABLES): what CASCADE reaches and
# RESTRICT refuses. Foreign keys of partitions copied from their parent's are left out.
_DEPENDENTS = f"""
       (SELECT json_agg(json_build_array(k.conname, {_name("k.conrelid")},
                                         {_columns("k.confkey")},
                                         (SELECT i.relname FROM pg_class i WHERE i.oid = k.conindid)))
          FROM pg_constraint k
         WHERE k.contype = 'f' AND k.confrelid = c.oid AND k.conrelid <> c.oid
           AND k.conparentid = 0),
       (SELECT json_agg(json_build_array(k.conname, {_name("k.confrelid")},
                                         {_columns("k.conkey")}))
          FROM pg_constraint k
         WHERE k.contype = 'f' AND k.conrelid = c.oid AND k.confrelid <> c.oid
           AND k.conparentid = 0),
       (WITH RECURSIVE e(parent, child) AS (
            SELECT c.oid, r.ev_class FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = c.oid AND r.ev_class <> c.oid
            UNION
            SELECT e.child, r.ev_class FROM e
              JOIN pg_class v ON v.oid = e.child AND v.relkind IN ('v', 'm')
              JOIN pg_depend d ON d.refobjid = e.child AND d.classid = 'pg_rewrite'::regclass
                              AND d.refclassid = 'pg_class'::regclass
              JOIN pg_rewrite r ON r.oid = d.objid
             WHERE r.ev_class <> e.child)
        SELECT json_agg(json_build_array({_name("e.parent")}, {_name("e.child")},
                                         x.relkind::text))
          FROM e JOIN pg_class x ON x.oid = e.child),
       (WITH RECURSIVE t(oid) AS (
            SELECT k.conrelid FROM pg_constraint k
             WHERE k.contype = 'f' AND k.confrelid = c.oid AND k.conrelid <> c.oid
            UNION
            SELECT k.conrelid FROM t JOIN pg_constraint k
                ON k.contype = 'f' AND k.confrelid = t.oid)
        SELECT json_agg({_name("t.oid")}) FROM t WHERE t.oid <> c.oid),
       (SELECT json_agg(json_build_array(a.attname, u.kind, u.name, u.view)) FROM (
            SELECT d.refobjsubid AS attnum,
                   CASE WHEN r.rulename = '_RETURN' THEN 'view' ELSE 'rule' END AS kind,
                   CASE WHEN r.rulename = '_RETURN' THEN {_name("r.ev_class")}
                        ELSE r.rulename || ' on ' || {_name("r.ev_class")} END AS name,
                   CASE WHEN r.rulename = '_RETURN' THEN {_name("r.ev_class")} END AS view
              FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = c.oid AND d.refobjsubid > 0
            UNION
            SELECT d.refobjsubid, 'trigger', g.tgname::text, NULL
              FROM pg_depend d JOIN pg_trigger g ON g.oid = d.objid
             WHERE d.classid = 'pg_trigger'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = c.oid AND d.refobjsubid > 0
            UNION
            SELECT d.refobjsubid, 'policy', p.polname::text, NULL
              FROM pg_depend d JOIN pg_policy p ON p.oid = d.objid
             WHERE d.classid = 'pg_policy'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = c.oid AND d.refobjsubid > 0
            UNION
            SELECT d.refobjsubid, 'generated column', g.attname::text, NULL
              FROM pg_depend d JOIN pg_attrdef f ON f.oid = d.objid
              JOIN pg_attribute g ON g.attrelid = f.adrelid AND g.attnum = f.adnum
             WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = c.oid AND d.refobjsubid > 0 AND d.deptype = 'n'
               AND g.attgenerated <> '') AS u
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum)
"""

TABLES = (
    """
WITH wanted AS (
    SELECT w.written, w.ord, to_regclass(w.ident) AS rel
      FROM unnest(%(written)s::text[], %(idents)s::text[]) WITH ORDINALITY AS w(written, ident, ord)
)
SELECT w.written, c.oid IS NOT NULL, c.oid::regclass::text, c.relkind::text,
       c.reltuples::float8, c.relpages::bigint,
       {sizes}
       (SELECT count(*) FROM pg_index x WHERE x.indrelid = c.oid),
       (SELECT count(DISTINCT r.ev_class) FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.refobjid = c.oid AND r.ev_class <> c.oid),
       (SELECT count(*) FROM pg_constraint k
         WHERE k.contype = 'f' AND k.confrelid = c.oid AND k.conrelid <> c.oid),
       (SELECT count(*) FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = c.oid),
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
       (SELECT count(*) FROM pg_inherits h WHERE h.inhparent = c.oid),
       (SELECT x.indrelid::regclass::text FROM pg_index x WHERE x.indexrelid = c.oid),
       (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod),
                                         a.attnotnull, t.typlen > 0) ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT json_agg(json_build_array(k.conname, k.contype::text, k.convalidated,
                                         pg_get_constraintdef(k.oid),
                                         CASE WHEN k.confrelid <> 0
                                              THEN """
    + _name("k.confrelid")
    + """ END,
                                         """
    + _columns("k.conkey")
    + """,
                                         CASE WHEN k.contype IN ('p', 'u', 'x') THEN
                                         (SELECT i.relname FROM pg_class i
                                           WHERE i.oid = k.conindid) END))
          FROM pg_constraint k WHERE k.conrelid = c.oid),
       (SELECT json_agg(json_build_array(l.pid, l.mode, l.granted,
                                         extract(epoch FROM now() - a.xact_start)::float8,
                                         a.state, left(a.query, 200)))
          FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'relation' AND l.relation = c.oid AND l.pid <> pg_backend_pid()
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())),
"""
    + _DEPENDENTS
    + """
  FROM wanted w
  LEFT JOIN pg_class c ON c.oid = w.rel
 ORDER BY w.ord
"""
)

# For each unqualified name a migration uses after its own SET search_path: the schemas of
# that path holding a relation of that name, and the schemas of the path that exist.
SCHEMAS = """
SELECT (SELECT json_agg(json_build_array(c.relname, n.nspname))
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relname = ANY(%(names)s) AND n.nspname = ANY(%(schemas)s)),
       (SELECT json_agg(nspname) FROM pg_namespace WHERE nspname = ANY(%(schemas)s)),
       current_user
"""
