"""Schema rules over the catalog model: naming, keys, documentation, tenancy, indexes, security."""
