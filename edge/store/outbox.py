"""The outbox as the relay sees it: what is waiting, and recording what the broker answered.

Reads run in plain (deferred) transactions and see a WAL snapshot, so they
never wait for writers. Each write is one short ``BEGIN IMMEDIATE``
transaction made after the broker has answered; nothing here is ever called
while a network operation is outstanding on the same thread, so the write lock
is never held across a network wait.

Rows are committed in ``seq`` order (the sequence counter is raised inside the
writing transaction, under the write lock), so a reader that has seen every
row up to some ``seq`` will never later find a smaller one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, and_, bindparam, func, select, update
from sqlalchemy.engine import Connection

from edge.domain.timestamps import rfc3339
from edge.store import schema, stock_messages
from edge.store.counters import UNPUBLISHED, read_counter
from edge.store.database import read_only
from edge.store.turns import write_turn

T = TypeVar("T")

# SQLite allows 32766 bound parameters; stay far below it.
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    topic: str
    payload: str  # the exact JSON text the core wrote
    attempts: int
    set_aside: bool


@dataclass(frozen=True, slots=True)
class StockRow:
    part: str
    topic: str
    payload: str
    version: int


@dataclass(frozen=True, slots=True)
class Backlog:
    events: int  # not yet acknowledged, set-aside rows included
    set_aside: int
    stock: int  # stock states whose newest version is not yet acknowledged


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _outbox_row(row: Any) -> OutboxRow:
    return OutboxRow(row.seq, row.topic, row.payload, row.attempts, bool(row.set_aside))


_OUTBOX_COLUMNS = (
    schema.outbox.c.seq,
    schema.outbox.c.topic,
    schema.outbox.c.payload,
    schema.outbox.c.attempts,
    schema.outbox.c.set_aside,
)


# The relay's read of a backlog, 200 rows at a time, as SQL text on the driver:
# through a Core select it cost about 8 µs a row, a tenth of the relay's CPU per
# event in a drain; this way about 4 µs, most of it SQLite reading the payload.
# The columns are _OUTBOX_COLUMNS, in that order.
_UNPUBLISHED_AFTER = (
    "SELECT seq, topic, payload, attempts, set_aside FROM outbox"
    " WHERE published_at IS NULL AND seq > ? ORDER BY seq LIMIT ?"
)


def unpublished_after(engine: Engine, after_seq: int, limit: int) -> list[OutboxRow]:
    """Unpublished rows with ``seq`` above ``after_seq``, oldest first."""
    with read_only(engine) as connection, connection.begin():
        result = connection.exec_driver_sql(_UNPUBLISHED_AFTER, (after_seq, limit))
        return [
            OutboxRow(seq, topic, payload, attempts, bool(set_aside))
            for seq, topic, payload, attempts, set_aside in result
        ]


def unpublished_by_seq(engine: Engine, seqs: Sequence[int]) -> list[OutboxRow]:
    """Those of ``seqs`` that are still unpublished, oldest first."""
    rows: list[OutboxRow] = []
    with read_only(engine) as connection, connection.begin():
        for chunk in _chunks(seqs):
            statement = select(*_OUTBOX_COLUMNS).where(
                schema.outbox.c.published_at.is_(None), schema.outbox.c.seq.in_(chunk)
            )
            rows.extend(_outbox_row(row) for row in connection.execute(statement))
    return sorted(rows, key=lambda row: row.seq)


def newest_seq(engine: Engine) -> int:
    """The highest ``seq`` committed so far (0 for an empty outbox)."""
    with read_only(engine) as connection, connection.begin():
        return int(connection.execute(select(func.max(schema.outbox.c.seq))).scalar_one() or 0)


def backlog(engine: Engine) -> Backlog:
    """How much is waiting to be published, without reading the waiting rows."""
    with read_only(engine) as connection, connection.begin():
        return pending(connection)


# Spelled out to match the partial index ix_outbox_set_aside.
_SET_ASIDE = "SELECT count(*) FROM outbox WHERE set_aside = 1 AND published_at IS NULL"


def pending(connection: Connection) -> Backlog:
    """The backlog as the ``unpublished`` counter and the set-aside index tell it."""
    events = read_counter(connection, UNPUBLISHED)
    set_aside = connection.exec_driver_sql(_SET_ASIDE).scalar_one()
    stock = connection.execute(
        select(func.count())
        .select_from(schema.stock_state)
        .where(schema.stock_state.c.published_version < schema.stock_state.c.version)
    ).scalar_one()
    return Backlog(events, int(set_aside), int(stock))


def record_answers(
    engine: Engine,
    *,
    published: Sequence[int],
    refused: Mapping[int, str],
    stock: Mapping[str, int],
    at: datetime,
) -> None:
    """Record what the broker answered, in one short write transaction.

    ``published``: rows it accepted. ``refused``: rows it refused, with the
    reason; they are set aside. ``stock``: the newest acknowledged version of
    each part's stock state.
    """
    if not (published or refused or stock):
        return
    # Not synced at commit (synchronous=NORMAL for this one): the scan writer
    # queues behind this transaction for the write lock, and an answer lost
    # with a power cut only means its row is sent again. The writer's next
    # commit syncs the log, these pages with it.
    with write_turn(engine).turn(), engine.connect() as connection:
        # On the driver: through SQLAlchemy the pragma would begin a transaction,
        # inside which SQLite refuses to change it.
        driver = connection.connection.driver_connection
        if driver is None:
            raise RuntimeError("the connection has no driver connection")
        driver.execute("PRAGMA synchronous=NORMAL")
        try:
            with connection.begin():
                _write_answers(connection, published, refused, stock, at)
        finally:
            try:
                driver.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error:
                # Never back in the pool unsynced: the scan writer may take it next.
                connection.invalidate()
                raise


def _write_answers(
    connection: Connection,
    published: Sequence[int],
    refused: Mapping[int, str],
    stock: Mapping[str, int],
    at: datetime,
) -> None:
    for chunk in _chunks(published):
        connection.execute(
            update(schema.outbox)
            .where(schema.outbox.c.seq.in_(chunk), schema.outbox.c.published_at.is_(None))
            .values(
                published_at=rfc3339(at),
                attempts=schema.outbox.c.attempts + 1,
                set_aside=False,
                last_error=None,
            )
        )
    for seq, error in refused.items():
        connection.execute(
            update(schema.outbox)
            .where(schema.outbox.c.seq == seq, schema.outbox.c.published_at.is_(None))
            .values(set_aside=True, attempts=schema.outbox.c.attempts + 1, last_error=error)
        )
    if stock:
        # One statement for every part (executemany): building a statement per
        # part cost ~0.2 ms each, most of the relay's time per scan of a
        # 50-component BOM.
        connection.execute(
            _RECORD_STOCK,
            [{"b_part": part, "b_version": version} for part, version in stock.items()],
        )


_RECORD_STOCK = (
    update(schema.stock_state)
    .where(
        and_(
            schema.stock_state.c.part == bindparam("b_part"),
            schema.stock_state.c.published_version < bindparam("b_version"),
        )
    )
    .values(published_version=bindparam("b_version"))
)


def stock_parts(engine: Engine) -> list[str]:
    """Every part that has a stock state, sorted."""
    with read_only(engine) as connection, connection.begin():
        statement = select(schema.stock_state.c.part).order_by(schema.stock_state.c.part)
        return [row.part for row in connection.execute(statement)]


_STOCK_COLUMNS = (
    schema.stock_state.c.part,
    schema.stock_state.c.topic,
    schema.stock_state.c.version,
    schema.stock_state.c.updated_at,
)


def stock_rows(engine: Engine, parts: Sequence[str]) -> list[StockRow]:
    """The current stock state of these parts, each message rendered as it stands."""
    with read_only(engine) as connection, connection.begin():
        found: list[Any] = []
        for chunk in _chunks(parts):
            statement = select(*_STOCK_COLUMNS).where(schema.stock_state.c.part.in_(chunk))
            found.extend(connection.execute(statement))
        return _rendered(connection, found)


def stock_changed(engine: Engine) -> list[StockRow]:
    """Stock states whose newest version the broker has not yet acknowledged, rendered."""
    statement = select(*_STOCK_COLUMNS).where(
        schema.stock_state.c.published_version < schema.stock_state.c.version
    )
    with read_only(engine) as connection, connection.begin():
        return _rendered(connection, list(connection.execute(statement)))


def _rendered(connection: Connection, found: list[Any]) -> list[StockRow]:
    """The rows with their messages, rendered in the transaction their versions were read in."""
    texts: dict[str, str] = {}
    for chunk in _chunks(found):
        texts |= stock_messages.render(connection, [(row.part, row.updated_at) for row in chunk])
    return [StockRow(row.part, row.topic, texts[row.part], row.version) for row in found]


def purge_published(engine: Engine, before: datetime, batch: int = 5000) -> int:
    """Delete published rows older than ``before``, one batch per short transaction.

    Returns how many rows were deleted. ``published_at`` is RFC 3339 UTC text
    of one fixed shape, so text order is time order.
    """
    cutoff = rfc3339(before)
    deleted = 0
    while True:
        with write_turn(engine).turn(), engine.begin() as connection:
            oldest = (
                select(schema.outbox.c.seq)
                .where(
                    schema.outbox.c.published_at.is_not(None), schema.outbox.c.published_at < cutoff
                )
                .order_by(schema.outbox.c.seq)
                .limit(batch)
                .scalar_subquery()
            )
            result = connection.execute(
                schema.outbox.delete().where(schema.outbox.c.seq.in_(oldest))
            )
        count = int(result.rowcount or 0)
        deleted += count
        if count < batch:
            return deleted
