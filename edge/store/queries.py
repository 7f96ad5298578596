"""Read-only queries behind ``edge stock``, ``edge scans``, ``edge events`` and ``edge reorders``.

They read committed state in a plain (deferred) transaction. Quantities are
read as text and turned into exact decimals here; ordering and arithmetic on
them happen in Python, and what a stock line shows as on order and as its
state is decided by the domain (edge/domain/stock.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from edge.domain import exactjson
from edge.domain.bom import BomGraph
from edge.domain.model import BomLine, Reorder
from edge.domain.quantity import ZERO, from_storage
from edge.domain.stock import StockState, on_order, still_on_order, stock_state
from edge.store import schema
from edge.store.database import read_only
from edge.store.outbox import pending
from edge.store.rows import REORDER_COLUMNS, optional_quantity, reorder_from_row

# The columns rows.reorder_from_row reads, in its order.
_REORDER = [schema.reorders.c[name] for name in REORDER_COLUMNS]


@dataclass(frozen=True, slots=True)
class PartStock:
    part: str
    description: str
    uom: str
    on_hand: Decimal
    on_order: Decimal
    reorder_point: Decimal | None

    @property
    def state(self) -> StockState:
        return stock_state(self.on_hand, self.reorder_point)

    def as_json(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "description": self.description,
            "uom": self.uom,
            "on_hand": self.on_hand,
            "on_order": self.on_order,
            "reorder_point": self.reorder_point,
            "state": self.state,
        }


def stock(engine: Engine) -> list[PartStock]:
    """Every item that holds stock (phantoms excluded), sorted by part."""
    with read_only(engine) as connection, connection.begin():
        items = connection.execute(select(schema.items)).all()
        bom_parents = {
            row.parent for row in connection.execute(select(schema.bom_lines.c.parent).distinct())
        }
        balances = {
            row.part: from_storage(row.on_hand)
            for row in connection.execute(select(schema.balances.c.part, schema.balances.c.on_hand))
        }
        open_reorders: dict[str, list[Reorder]] = {}
        statement = select(*_REORDER).where(schema.reorders.c.open.is_(True))
        for row in connection.execute(statement):
            reorder = reorder_from_row(tuple(row))
            open_reorders.setdefault(reorder.part, []).append(reorder)
    stocked = {row.part for row in items if row.stocked}
    graph = BomGraph({parent: [_placeholder(parent)] for parent in bom_parents}, stocked)
    rows = [
        PartStock(
            part=row.part,
            description=row.description,
            uom=row.uom,
            on_hand=balances.get(row.part, ZERO),
            on_order=on_order(open_reorders.get(row.part, ())),
            reorder_point=optional_quantity(row.reorder_point),
        )
        for row in items
        if graph.is_stocked(row.part)
    ]
    return sorted(rows, key=lambda row: row.part)


def _placeholder(parent: str) -> BomLine:
    # Only whether a part has a BOM matters for is_stocked; the lines are not read.
    return BomLine(parent, parent, Decimal(1))


def scans(engine: Engine, limit: int | None) -> list[dict[str, Any]]:
    """The scan journal, newest first."""
    statement = select(schema.scans).order_by(schema.scans.c.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    with read_only(engine) as connection, connection.begin():
        return [
            {
                "scan_id": row.id,
                "station": row.station,
                "scanner": row.scanner,
                "code": row.code,
                "symbology": row.symbology,
                "status": row.status,
                "reason": row.reason,
                "at": row.at,
                "gtin": row.gtin,
                "serial": row.serial,
                "batch": row.batch,
            }
            for row in connection.execute(statement)
        ]


def events(engine: Engine, *, pending: bool) -> list[dict[str, Any]]:
    """Outbox events, oldest first; with ``pending`` only those not yet published."""
    statement = select(schema.outbox).order_by(schema.outbox.c.seq)
    if pending:
        statement = statement.where(schema.outbox.c.published_at.is_(None))
    with read_only(engine) as connection, connection.begin():
        payloads = [(row, exactjson.loads(row.payload)) for row in connection.execute(statement)]
    return [
        {
            # The event's seq in its stream (the row's position differs after a restore).
            "seq": payload.get("seq", row.seq),
            "topic": row.topic,
            "published": row.published_at is not None,
            "published_at": row.published_at,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "set_aside": bool(row.set_aside),
            "payload": payload,
        }
        for row, payload in payloads
    ]


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    events_pending: int
    stock_pending: int
    set_aside: int = 0  # pending events the broker refused, retried with back-off


def outbox_summary(engine: Engine) -> OutboxSummary:
    with read_only(engine) as connection, connection.begin():
        backlog = pending(connection)
    return OutboxSummary(backlog.events, backlog.stock, backlog.set_aside)


def reorders(engine: Engine, *, include_closed: bool) -> list[dict[str, Any]]:
    statement = select(*_REORDER, schema.reorders.c.closed_at).order_by(schema.reorders.c.id)
    if not include_closed:
        statement = statement.where(schema.reorders.c.open.is_(True))
    with read_only(engine) as connection, connection.begin():
        rows = connection.execute(statement).all()
    result = []
    for *values, closed_at in rows:
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
        })  # fmt: skip
    return result
