"""The named counters, in the ``counters`` table: one integer per name.

``seq`` numbers outbox events, ``boot`` counts ``edge run`` starts and
``catalog`` versions the catalog; the writing transaction raises them under
SQLite's write lock. ``unpublished`` counts unacknowledged events and is kept
by triggers on the outbox (migration 0004).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.engine import Connection

from edge.store import schema
from edge.store.statements import BUMP_COUNTER

SEQ: Final = "seq"
BOOT: Final = "boot"
CATALOG: Final = "catalog"
UNPUBLISHED: Final = "unpublished"
# Raised by every unit of work's commit: tells a process whether another one
# wrote since its last transaction (see kept.py).
WRITES: Final = "writes"


def read_counter(connection: Connection, name: str) -> int:
    """The counter's value; 0 before it was first raised."""
    value = connection.execute(
        select(schema.counters.c.value).where(schema.counters.c.name == name)
    )
    return int(value.scalar_one_or_none() or 0)


def bump_counter(connection: Connection, name: str) -> int:
    """Raise the counter by one (from 0 when it has no row yet); its new value."""
    return int(connection.exec_driver_sql(BUMP_COUNTER, (name,)).scalar_one())


def read_stream(connection: Connection) -> tuple[str, int]:
    """The event stream's UUID and its ``seq_base`` (migration 0005)."""
    row = connection.execute(select(schema.stream.c.uuid, schema.stream.c.seq_base)).one()
    return str(row.uuid), int(row.seq_base)
