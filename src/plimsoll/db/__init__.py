"""PostgreSQL: schema build, migrations, diff, dry-run, lint and risk."""
