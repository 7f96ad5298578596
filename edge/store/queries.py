"""Read-only queries behind ``edge stock``, ``edge scans``, ``edge events`` and ``edge reorders``.

They run plain SQL on the standard library's sqlite3 driver, not through
SQLAlchemy: the read commands then start without importing it (about a third
of ``edge stock``'s time went to that import). The command line opens the
file with :func:`connect_read_only` (``mode=ro``), so a read can neither
write nor upgrade the schema; the demo and the tests pass their engine, whose
pooled driver connection is used as it is. Each query reads one snapshot in a
plain deferred transaction (under WAL it never waits for a writer).

Quantities are read as text and turned into exact decimals here; ordering and
arithmetic on them happen in Python, and what a stock line shows as on order
and as its state is decided by the domain (edge/domain/stock.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from edge.domain import exactjson
from edge.domain.bom import BomGraph
from edge.domain.model import BomLine, Card, Item, Reorder, ReorderPolicy, Replenishment
from edge.domain.ports import Balance
from edge.domain.quantity import ZERO
from edge.domain.stock import StockState, on_order, still_on_order, stock_state
from edge.domain.stock_message import stock_payload
from edge.store.rows import (
    BALANCE_COLUMNS,
    CARD_COLUMNS,
    REORDER_COLUMNS,
    balance_from_row,
    card_from_row,
    optional_quantity,
    reorder_from_row,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    Source = Engine | sqlite3.Connection

# The columns rows.reorder_from_row reads, in its order. The statements below
# are put together from fixed names only (S608): no value is ever spliced in.
_REORDER = ", ".join(REORDER_COLUMNS)
_OPEN_REORDERS = f"SELECT {_REORDER} FROM reorders WHERE open = 1"  # noqa: S608
_ALL_REORDERS = f"SELECT {_REORDER}, closed_at, reference FROM reorders"  # noqa: S608
READ_TIMEOUT_S = 10.0  # as long as a writer may hold a checkpoint; reads never take the write lock


class SchemaMismatch(Exception):
    """The file's tables are not the ones these queries read (an older or foreign schema)."""


def connect_read_only(path: Path, *, any_thread: bool = False) -> sqlite3.Connection:
    """The database at ``path`` opened read-only: nothing a query does can change the file.

    ``any_thread``: the caller serialises the connection's use across threads itself.
    """
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=READ_TIMEOUT_S, isolation_level=None,
                           check_same_thread=not any_thread)  # fmt: skip


@contextlib.contextmanager
def snapshot(source: Source) -> Iterator[sqlite3.Connection]:
    """One read transaction on the driver connection of ``source``."""
    if isinstance(source, sqlite3.Connection):
        connection, release = source, None
    else:
        pooled: Any = source.raw_connection()
        connection, release = pooled.driver_connection, pooled
    try:
        connection.execute("BEGIN")
        try:
            yield connection
        except sqlite3.OperationalError as error:
            # "no such table/column": a file these queries do not understand.
            if "no such" in str(error):
                raise SchemaMismatch(str(error)) from None
            raise
        finally:
            connection.execute("ROLLBACK")
    finally:
        if release is not None:
            release.close()


# What edge stock --json tells of a part: the retained stock message's keys (less its
# schema and updated_at), with the item's description and the stock state.
_STOCK_KEYS = (
    *("part", "description", "uom", "on_hand", "on_order", "position", "reorder_point"),
    *("state", "replenishment", "last_counted_at", "last_counted", "consumed_since_count"),
    *("average_daily_use", "days_of_cover", "cards"),
)


@dataclass(frozen=True, slots=True)
class PartStock:
    part: str
    description: str
    uom: str
    on_hand: Decimal
    on_order: Decimal
    reorder_point: Decimal | None
    # The part's retained stock message as the rules write it (stock_message.stock_payload):
    # position, replenishment, last count, use since, daily use, cover, cards.
    message: Mapping[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> StockState:
        return stock_state(self.on_hand, self.reorder_point)

    def as_json(self) -> dict[str, Any]:
        shown = {**self.message, "description": self.description, "state": self.state}
        return {key: shown[key] for key in _STOCK_KEYS}


_ITEMS = "SELECT part, description, uom, stocked, reorder_point, replenishment FROM items"
_BALANCES = f"SELECT {', '.join(BALANCE_COLUMNS)} FROM balances"  # noqa: S608
_CARDS = f"SELECT {', '.join(CARD_COLUMNS)} FROM cards ORDER BY card"  # noqa: S608


def stock(source: Source, at: datetime | None = None) -> list[PartStock]:
    """Every item that holds stock (phantoms excluded), sorted by part.

    Average daily use is over the 14 UTC days ending on the day of ``at`` (default: now).
    """
    now = datetime.now(UTC) if at is None else at
    with snapshot(source) as connection:
        items = connection.execute(_ITEMS).fetchall()
        bom_parents = {
            row[0] for row in connection.execute("SELECT DISTINCT parent FROM bom_lines")
        }
        # One reading of a balance row: rows.balance_from_row, as the unit of work reads it.
        balances = {
            row[0]: balance_from_row(tuple(row[1:])) for row in connection.execute(_BALANCES)
        }
        cards: dict[str, list[Card]] = {}
        for row in connection.execute(_CARDS):
            card = card_from_row(tuple(row))
            cards.setdefault(card.part, []).append(card)
        open_reorders: dict[str, list[Reorder]] = {}
        for row in connection.execute(_OPEN_REORDERS):
            reorder = reorder_from_row(tuple(row))
            open_reorders.setdefault(reorder.part, []).append(reorder)
    stocked = {part for part, _d, _u, is_stocked, _r, _k in items if is_stocked}
    graph = BomGraph({parent: [_placeholder(parent)] for parent in bom_parents}, stocked)
    rows = []
    for part, description, uom, _stocked, reorder_point, replenishment in items:
        if not graph.is_stocked(part):
            continue
        item = Item(part, description, uom,
                    policy=ReorderPolicy(reorder_point=optional_quantity(reorder_point)),
                    replenishment=Replenishment(replenishment))  # fmt: skip
        balance = balances.get(part) or Balance(ZERO)
        pending = on_order(open_reorders.get(part, ()))
        part_cards = cards.get(part, []) if item.kanban else None
        message = stock_payload(part, balance, pending, item, now, cards=part_cards)
        rows.append(PartStock(part, description, uom, balance.on_hand, pending,
                              item.policy.reorder_point, message))  # fmt: skip
    return sorted(rows, key=lambda row: row.part)


def _placeholder(parent: str) -> BomLine:
    # Only whether a part has a BOM matters for is_stocked; the lines are not read.
    return BomLine(parent, parent, Decimal(1))


_SCAN_KEYS = (
    *("scan_id", "station", "scanner", "code", "symbology", "status", "reason", "at"),
    *("gtin", "serial", "batch"),
)
_SCANS = (
    "SELECT id, station, scanner, code, symbology, status, reason, at, gtin, serial, batch "
    "FROM scans ORDER BY id DESC"
)


def scans(source: Source, limit: int | None) -> list[dict[str, Any]]:
    """The scan journal, newest first; the newest ``limit`` scans when it is given."""
    with snapshot(source) as connection:
        if limit is None:
            rows = connection.execute(_SCANS)
        else:
            rows = connection.execute(f"{_SCANS} LIMIT ?", (limit,))
        return [dict(zip(_SCAN_KEYS, row, strict=True)) for row in rows]


_EVENTS = "SELECT seq, topic, published_at, attempts, last_error, set_aside, payload FROM outbox"


def events(source: Source, *, pending: bool, limit: int | None = None) -> list[dict[str, Any]]:
    """Outbox events, oldest first; with ``pending`` only those not yet published.

    With ``limit``, the newest ``limit`` of them (still oldest first).
    """
    where = " WHERE published_at IS NULL" if pending else ""
    statement = f"{_EVENTS}{where} ORDER BY seq"
    parameters: tuple[int, ...] = ()
    if limit is not None:
        newest = f"{_EVENTS}{where} ORDER BY seq DESC LIMIT ?"
        statement = f"SELECT * FROM ({newest}) ORDER BY seq"  # noqa: S608 - fixed text only
        parameters = (limit,)
    with snapshot(source) as connection:
        return [
            {
                # The event's seq in its stream (the row's position differs after a restore).
                "seq": event.get("seq", seq),
                "topic": topic,
                "published": published_at is not None,
                "published_at": published_at,
                "attempts": attempts,
                "last_error": last_error,
                "set_aside": bool(set_aside),
                "payload": event,
            }
            for seq, topic, published_at, attempts, last_error, set_aside, event in (
                (*row[:6], exactjson.loads(row[6]))
                for row in connection.execute(statement, parameters)
            )
        ]


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    events_pending: int
    stock_pending: int
    set_aside: int = 0  # pending events the broker refused, retried with back-off


# The same reads as outbox.pending (the relay's view): the ``unpublished``
# counter kept by triggers, the partial index ix_outbox_set_aside, and stock
# states newer than their last acknowledged version.
_SUMMARY = (
    "SELECT (SELECT coalesce(max(value), 0) FROM counters WHERE name = 'unpublished'), "
    "(SELECT count(*) FROM outbox WHERE set_aside = 1 AND published_at IS NULL), "
    "(SELECT count(*) FROM stock_state WHERE published_version < version)"
)


def outbox_summary(source: Source) -> OutboxSummary:
    with snapshot(source) as connection:
        events_pending, set_aside, stock_pending = connection.execute(_SUMMARY).fetchone()
    return OutboxSummary(int(events_pending), int(stock_pending), int(set_aside))


def reorders(source: Source, *, include_closed: bool) -> list[dict[str, Any]]:
    where = "" if include_closed else " WHERE open = 1"
    with snapshot(source) as connection:
        rows = connection.execute(f"{_ALL_REORDERS}{where} ORDER BY id").fetchall()
    result = []
    for *values, closed_at, reference in rows:
        reorder = reorder_from_row(tuple(values))
        result.append({
            "reorder_id": reorder.id,
            "part": reorder.part,
            "ordered": reorder.ordered,
            "received": reorder.received,
            "outstanding": still_on_order(reorder),
            "status": "open" if reorder.open else "closed",
            "close_reason": reorder.close_reason,
            "created_at": reorder.created_at,
            "closed_at": closed_at,
            "reference": reference,  # the central system's (reorder.ack), e.g. a PO number
        })  # fmt: skip
    return result
