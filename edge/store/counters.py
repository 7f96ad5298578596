"""The named counters: event sequence, boot number, catalog version, unpublished events.

``seq``, ``boot`` and ``catalog`` are raised by the writing transaction under
SQLite's write lock; ``unpublished`` is kept by triggers on the outbox
(migration 0004).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from edge.store import schema

NEXT_SEQ = (
    "INSERT INTO counters (name, value) VALUES ('seq', 1) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value"
)


def read_counter(connection: Connection, name: str) -> int:
    value = connection.execute(
        select(schema.counters.c.value).where(schema.counters.c.name == name)
    )
    return int(value.scalar_one_or_none() or 0)


def bump_counter(connection: Connection, name: str) -> int:
    statement = (
        sqlite_insert(schema.counters)
        .values(name=name, value=1)
        .on_conflict_do_update(
            index_elements=[schema.counters.c.name], set_={"value": schema.counters.c.value + 1}
        )
        .returning(schema.counters.c.value)
    )
    return int(connection.execute(statement).scalar_one())
