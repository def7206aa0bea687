"""Builds a :class:`~plimsoll.db.catalog.Catalog` by applying DDL statically, without a database.

The linter checks "the schema after the files are applied": :class:`CatalogBuilder` replays the
statements' JSON parse trees (:mod:`plimsoll.db.sqljson`) on a mutable model, in order, and
hands out the frozen :class:`Catalog` that introspecting a database built from the same files
would give (:mod:`plimsoll.db.introspect`). It is pure dict work in one pass: each statement
costs what it touches, never a look over the whole catalog (but renames and CASCADE, which
follow references), and no parse tree is kept once applied.

What it follows, as PostgreSQL does: keys are ``schema.name``, an unqualified name going to the
first schema of the ``search_path`` (``SET search_path`` and ``set_config('search_path', ...)``
are honoured, the builder's default schema otherwise) and an unqualified reference to the
first schema holding that name; unnamed constraints and indexes get PostgreSQL's generated
names (``t_pkey``, ``t_a_key``, ``t_a_fkey``, ``t_a_check``/``t_check``, ``t_a_excl``,
``t_a_idx``, with the 63-byte truncation and the ``1``, ``2`` suffixes on a clash); a primary
key, identity and serial make their columns NOT NULL; serial columns become integer types
with a ``nextval`` default and an owned sequence; NOT VALID is ignored in CREATE TABLE (as
PostgreSQL does) and kept by ALTER TABLE; duplicate primary key / unique specifications of
one CREATE TABLE collapse into one; ``ALL`` privileges expand to PostgreSQL's list; a fresh
database's ``public`` schema and ``plpgsql`` extension are there from the start. Every
object carries its :class:`~plimsoll.db.catalog.Origin` (file, line and column of the
statement, or of the column or constraint clause): a
:class:`~plimsoll.db.catalog.ScriptOrigin` keeping the byte offset and the script's shared
line index, its line and column counted when first read.

What is approximated, and why:

* **Expression texts** (defaults, generation expressions, checks, index expressions and
  predicates, policies, trigger WHEN, view queries) are the statement's own source text,
  one line, comments left out; simple defaults (constants, casts, plain function calls such
  as ``now()`` or ``nextval('s'::regclass)``) are printed from the tree, which is faster
  and reads like ``pg_get_expr``. PostgreSQL prints them back from its analysed tree (added
  casts and parentheses, ``(price >= (0)::numeric)``); reproducing that needs the server's
  type resolution. Renaming a column does not rewrite these texts.
* **Definition texts** (constraints, indexes, triggers, functions) are printed from the
  structured fields in the shape of ``pg_get_constraintdef`` / ``pg_get_indexdef`` /
  ``pg_get_triggerdef`` / ``pg_get_functiondef``, with those expression texts inside; the
  structured (derived) fields are exact.
* **Types**: ``format_type`` names; an unqualified type that is not PostgreSQL's own is
  qualified with the schema holding it, or the creation schema when it is unknown (an
  extension's type, as ``public.citext``).
* **Partitioned tables and partitions** are built as introspection reads them, into the
  catalog's ``partitioned`` and ``partitions``: a partitioned table with its key as
  ``pg_get_partkeydef`` prints it (``RANGE (day)``, ``LIST (lower(region))``, expression
  keys cut from the source) and everything a table has; a partition (``PARTITION OF``, or a
  table after ``ATTACH PARTITION``) with its parent, its bound as ``pg_get_expr`` prints it
  (each value in its key column's type: ``'2024-01-01'``, ``5``, ``'5'`` for a bigint key,
  ``timestamptz`` values in UTC as a server whose TimeZone is UTC prints them; values of
  expression keys and of types whose output needs the server, as written), its parent's
  columns (not its own), and copies of its parent's constraints and indexes under the
  names PostgreSQL gives them, kept apart in ``inherited_constraints`` and
  ``inherited_indexes`` (an equivalent index or constraint the table already has is
  adopted). What the parent gains or loses later (ADD CONSTRAINT, CREATE INDEX, DROP,
  column changes, renames) reaches its partitions, ONLY excepted; an index made ON ONLY a
  partitioned table is printed ``ON ONLY`` until every partition attaches one (ALTER INDEX
  ... ATTACH PARTITION, as pg_dump writes). DETACH makes a plain table again, its columns
  and the copies its own; dropping a partitioned table drops its partitions. Copies of row
  triggers are not listed (introspection leaves them out). See
  :mod:`~plimsoll.db.ddl.partitions`.
* **Left out**, as introspection leaves them out of ``tables``: temporary objects,
  foreign tables, the migrator's tracking table, triggers on views, objects an extension
  creates. Not followed: ownership, grants to ``CURRENT_USER``-style roles (usually the
  owner, whose privileges are not listed), range types' details.
* **Privileges** are PostgreSQL's starting points plus the GRANTs and REVOKEs applied: a
  function starts with EXECUTE to PUBLIC, schema ``public`` with USAGE to PUBLIC (as from
  PostgreSQL 15); column privileges, sequences', functions' and schemas' are followed, each
  grant with the origin of the statement that gave it. **ALTER DEFAULT PRIVILEGES** applies
  to the tables, views, sequences and functions created after it, as PostgreSQL does (the
  global defaults replace the built-in ones, ``IN SCHEMA`` ones add to them); the script is
  taken to run as one role, so ``FOR ROLE`` is read as that role (see
  :mod:`~plimsoll.db.ddl.privileges`).
* **LIKE** copies columns with NOT NULL, then defaults, identity, generation expressions,
  check constraints, indexes and comments as its INCLUDING options say; **INHERITS** copies
  the parents' columns (merged by name), NOT NULL, defaults and inheritable checks, and
  records the parents (``ALTER TABLE ... [NO] INHERIT`` changes them); a column only
  inherited is not the child's own (``local`` false, as ``attislocal``) until declared
  there too or no parent gives it any more.
* **Collations** (``COLLATE``, and ``ALTER COLUMN ... TYPE`` with or without one) are
  kept as introspection reads them (``pg_catalog."C"``); an unqualified name is taken as
  PostgreSQL's own (collations made with CREATE COLLATION are not followed).
* **CASCADE** is best effort: dropping a table or view with CASCADE drops the views reading
  it and the foreign keys referencing it; a column, its constraints and indexes; a type,
  the columns of that type; a function, the triggers calling it; a schema, everything in it.
  Without CASCADE only the object goes (PostgreSQL would refuse if something depended on it).
* ``CREATE TABLE AS`` / ``SELECT INTO`` make a table without columns (their types need the
  query's analysis). Roles written as ``CURRENT_USER``/``SESSION_USER``/``CURRENT_ROLE`` in a
  policy are kept as those words in lower case.

The modules, one job each:

* :mod:`~plimsoll.db.ddl.builder`: :class:`CatalogBuilder` (each statement kind to its
  handler) and :func:`build_catalog`;
* :mod:`~plimsoll.db.ddl.model`: the mutable database (objects by key, relation and
  constraint names taken, the search path) and the statement being applied;
* :mod:`~plimsoll.db.ddl.state`: the table drafts (constraints, indexes, triggers) and their
  freezing into catalog objects;
* :mod:`~plimsoll.db.ddl.names`: PostgreSQL's generated names;
  :mod:`~plimsoll.db.ddl.types`: type names; :mod:`~plimsoll.db.ddl.tokens` and
  :mod:`~plimsoll.db.ddl.expressions`: expression texts, cut from the source or printed;
* :mod:`~plimsoll.db.ddl.partition_keys`: partition keys and bounds as PostgreSQL prints
  them; :mod:`~plimsoll.db.ddl.partitions`: what partitions copy from their partitioned
  table, ATTACH and DETACH;
* one module per kind of statement: :mod:`~plimsoll.db.ddl.tables`,
  :mod:`~plimsoll.db.ddl.constraints`, :mod:`~plimsoll.db.ddl.alter`,
  :mod:`~plimsoll.db.ddl.indexes`, :mod:`~plimsoll.db.ddl.views`,
  :mod:`~plimsoll.db.ddl.functions`, :mod:`~plimsoll.db.ddl.triggers_policies`,
  :mod:`~plimsoll.db.ddl.user_types`, :mod:`~plimsoll.db.ddl.sequences`,
  :mod:`~plimsoll.db.ddl.grants_comments`, :mod:`~plimsoll.db.ddl.renames`,
  :mod:`~plimsoll.db.ddl.drops`.

Each handler is a function ``(model, node)``; a statement module imports only those below it
(functions under drops, drops under views, views under tables, tables under alter).
"""

from __future__ import annotations

from plimsoll.db.ddl.builder import CatalogBuilder, build_catalog
from plimsoll.db.ddl.names import make_object_name

__all__ = ["CatalogBuilder", "build_catalog", "make_object_name"]
