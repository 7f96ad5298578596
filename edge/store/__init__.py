"""SQLite persistence: schema, migrations, the unit of work and read queries."""
