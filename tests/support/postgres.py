"""The real PostgreSQL fixture (filled in by the infrastructure work)."""
