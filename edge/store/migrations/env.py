"""Alembic environment: migrations always run on a connection the product opened.

The product calls :func:`edge.store.database.migrate`, which hands Alembic a
connection already inside a ``BEGIN IMMEDIATE`` transaction, so two processes
starting together cannot both upgrade the file.
"""

from __future__ import annotations

from alembic import context

from edge.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through edge.store.database.migrate(), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    transaction_per_migration=False,
)
context.run_migrations()
