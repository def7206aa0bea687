"""Migration-safety rules: what a statement does to a live table (locks, rewrites, scans)."""
