"""Builds a :class:`~plimsoll.db.catalog.Catalog` by applying DDL statically (compatibility name).

The builder lives in the package :mod:`plimsoll.db.ddl` (one module per kind of statement;
its docstring says what is followed and what is approximated). This module keeps the
original import path working: ``from plimsoll.db.ddl_catalog import CatalogBuilder,
build_catalog``.
"""

from __future__ import annotations

from plimsoll.db.ddl import CatalogBuilder, build_catalog, make_object_name

__all__ = ["CatalogBuilder", "build_catalog", "make_object_name"]
