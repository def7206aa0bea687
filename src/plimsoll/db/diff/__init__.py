"""What differs between two catalogs, and the DDL that turns one into the other and back.

:func:`diff` compares catalog A with catalog B and returns :class:`Change` records, one per
object that was added, removed or changed. Each change carries one or more :class:`Step`: a
statement that moves A towards B (``up``) and the statement that undoes it (``down``), with
the :class:`Phase` of the migration it belongs to.

Ordering. A migration runs every step's ``up`` sorted by phase, then its ``down`` file runs
every step's ``down`` in exactly the reverse order. The phases go from dropping dependents
(triggers, policies, views, foreign keys, constraints, indexes, then tables) to creating
things in dependency order (schemas, extensions, types, sequences, functions, tables,
columns), dropping what is no longer used (functions, sequences, types, extensions,
schemas), then constraints, indexes, foreign keys, views, triggers, row-level security,
policies, comments and grants; since each ``down`` undoes its own ``up``, reversing the whole
list gives a valid order for the way back too. Views are dropped in reverse dependency order
and created in dependency order, and a view that reads a table whose columns change type or
disappear is dropped before and recreated after the change; a foreign key whose referenced
key is replaced steps aside while it is.

:func:`generate` writes the steps as a ``<version>_<name>.up.sql`` and ``.down.sql`` pair in
a migrations folder, with the version the folder's naming gives the next migration.

Destructive changes. A step says why its ``up`` (or ``down``) may lose data or fail on the
rows already there (a table, column, sequence or materialized view dropped, SET NOT NULL, a
type change that does not only widen, a constraint or unique index checked against the
rows, a partition attached...: :mod:`~plimsoll.db.diff.risks`); a change with such a step
is destructive, and the generated scripts put ``-- destructive: <why>`` above the statement.

Covered: schemas and their grants; default privileges (``ALTER DEFAULT PRIVILEGES``, each
role's; the objects a migration creates end with their own grants whatever defaults gave
them); extensions; enum types (labels added with ADD VALUE,
removed or reordered by recreating the type), domains and composite types; sequences;
functions and procedures (their grants compared with a new function's EXECUTE to PUBLIC);
tables (UNLOGGED or not, storage parameters such as ``fillfactor`` and ``autovacuum_*``,
their TOAST table's included), columns (collations, statistics targets, storage,
compression and identity sequence options included), constraints, indexes, triggers (and
whether they fire: ENABLE, DISABLE, ENABLE REPLICA, ENABLE ALWAYS), row-level security
and policies; table inheritance (INHERIT / NO INHERIT; a parent's ADD / DROP / ALTER COLUMN
reaches its children through PostgreSQL, so only what a child has of its own is written
for it); partitioned tables and partitions (created with PARTITION BY / PARTITION OF,
sub-partitions included, dropped, attached, detached, re-bounded by DETACH then ATTACH;
the copies PostgreSQL makes of a parent's indexes, keys, checks and triggers are never
written twice); views and materialized views (and their indexes and parameters, such as
``security_barrier``); comments on all of these (schemas, constraints, indexes, triggers
and policies included), and grants on tables, columns, views, sequences, functions and
schemas.

Not covered: ownership (environments differ in roles), range types, grants on types, an
identity sequence's name, a partition's own ENABLE / DISABLE state of its copy of its
parent's trigger, comments on the index of a primary key or unique constraint, a
domain's base type (reported, no DDL), an enum's labels changed when a partition key uses it
(reported, no DDL: PostgreSQL cannot retype a key column), a composite type's attributes reordered (reported,
no DDL), and a changed partition key or a table becoming partitioned or plain (reported,
no DDL: PostgreSQL cannot do either in place, and rebuilding a table full of rows is a
data migration to write and time by hand, not one a diff should drop a table for). Column
order is not compared: a column comes back at the end of its table.

The modules, one kind of object each: :mod:`~plimsoll.db.diff.schemas` (schemas,
extensions), :mod:`~plimsoll.db.diff.privileges` (default privileges),
:mod:`~plimsoll.db.diff.enums`, :mod:`~plimsoll.db.diff.types` (domains,
composite types), :mod:`~plimsoll.db.diff.sequences`, :mod:`~plimsoll.db.diff.functions`,
:mod:`~plimsoll.db.diff.tables` (tables, columns), :mod:`~plimsoll.db.diff.settings`
(storage parameters, column settings, identity options),
:mod:`~plimsoll.db.diff.persistence` (UNLOGGED / LOGGED), :mod:`~plimsoll.db.diff.inheritance`
(children's and partitions' columns), :mod:`~plimsoll.db.diff.partitions`,
:mod:`~plimsoll.db.diff.parts` (constraints, indexes, triggers, policies),
:mod:`~plimsoll.db.diff.views`; with
:mod:`~plimsoll.db.diff.model` (the records), :mod:`~plimsoll.db.diff.risks` (what may
lose data or fail), :mod:`~plimsoll.db.diff.text` (shared SQL),
:mod:`~plimsoll.db.diff.engine` (:func:`diff`) and :mod:`~plimsoll.db.diff.write`.
"""

from __future__ import annotations

from plimsoll.db.diff.engine import diff
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.write import generate, migration_sql

__all__ = ["Change", "ChangeKind", "Phase", "Step", "diff", "generate", "migration_sql"]
