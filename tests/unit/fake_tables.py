"""The rows and tables :class:`tests.unit.fake_store.InMemoryStore` keeps.

One frozen dataclass per table row, holding what the SQLite table holds
(quantities as exact decimals, times as the store reads them back); an update
replaces the row. :class:`Tables` is every table together, so a savepoint is
a copy of it.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from edge.domain.bom import Lines
from edge.domain.model import BomLine, Card, Item, Reorder
from edge.domain.ports import (
    Balance,
    KanbanMark,
    Moment,
    ScanRecord,
    StationState,
    TransactionRecord,
)
from edge.domain.usage import CountRecord


@dataclass(frozen=True, slots=True)
class TransactionRow:
    id: int
    kind: str
    part: str | None
    quantity: Decimal | None
    station: str | None
    scanner: str | None
    scan_id: int | None
    bom_hash: str | None
    reason: str | None
    at: Moment
    event_id: str | None = None
    voided_by: int | None = None

    def record(self) -> TransactionRecord:
        return TransactionRecord(
            id=self.id,
            kind=self.kind,
            part=self.part,
            quantity=self.quantity,
            station=self.station,
            scanner=self.scanner,
            scan_id=self.scan_id,
            event_id=self.event_id,
            at=self.at,
            voided_by=self.voided_by,
        )


@dataclass(frozen=True, slots=True)
class LedgerRow:
    id: int
    txn_id: int
    part: str
    quantity: Decimal  # signed: + into stock, - out of stock
    kind: str
    scan_id: int | None
    bom_hash: str | None


@dataclass(frozen=True, slots=True)
class ReorderRow:
    id: int
    part: str
    ordered: Decimal
    received: Decimal
    open: bool
    created_at: str
    close_reason: str | None = None
    closed_at: str | None = None
    reference: str | None = None
    acknowledged_at: str | None = None

    def reorder(self) -> Reorder:
        return Reorder(
            id=self.id,
            part=self.part,
            ordered=self.ordered,
            received=self.received,
            open=self.open,
            created_at=self.created_at,
            close_reason=self.close_reason,
        )


@dataclass(frozen=True, slots=True)
class JournalRow:
    id: int
    scan: ScanRecord
    status: str  # accepted | rejected | duplicate
    reason: str | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    event_id: str
    type: str
    payload: dict[str, Any]
    created_at: str


@dataclass
class Tables:
    """Everything a transaction can change; copied whole for a savepoint.

    Rows are frozen and replaced on update, so copying the containers is a
    complete snapshot (payload dicts are never changed after they are stored).
    """

    items: dict[str, Item] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    boms: dict[str, tuple[BomLine, ...]] = field(default_factory=dict)
    structures: dict[str, Lines] = field(default_factory=dict)
    balances: dict[str, Balance] = field(default_factory=dict)
    transactions: dict[int, TransactionRow] = field(default_factory=dict)
    ledger: list[LedgerRow] = field(default_factory=list)
    serials: dict[tuple[str, str], int] = field(default_factory=dict)
    reorders: dict[int, ReorderRow] = field(default_factory=dict)
    stations: dict[str, StationState] = field(default_factory=dict)
    scans: dict[int, JournalRow] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    restated: dict[str, datetime] = field(default_factory=dict)  # stock_state: as of
    cards: dict[str, Card] = field(default_factory=dict)
    kanban_marks: dict[str, KanbanMark] = field(default_factory=dict)
    counts: dict[int, CountRecord] = field(default_factory=dict)
    # The event stream, made with the "database" as migration 0005 makes it.
    stream: str = field(default_factory=lambda: str(uuid.uuid4()))

    def copy(self) -> Tables:
        return Tables(**{name: copy.copy(value) for name, value in vars(self).items()})
