"""The parts of the store that are written straight through: no cache, no buffer.

The scan journal, the transaction log, shipped serials and station state are
each a small class of :class:`edge.domain.ports.InventoryStore` methods that
the unit of work (unit_of_work.py) inherits. They run their statements
through :class:`OpenTransaction`, which the unit of work implements on its
connection; balances, the ledger, reorders and the outbox stay in the unit of
work, because its commit and savepoints buffer or cache them.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from edge.domain.ports import Moment, ScanRecord, StationState, TransactionRecord
from edge.store import schema
from edge.store.rows import (
    scan_values,
    station_state_from_row,
    station_state_values,
    transaction_from_row,
    transaction_values,
)
from edge.store.statements import (
    ADD_SCAN,
    ADD_TRANSACTION,
    RECORD_SERIAL,
    SAVE_STATION_STATE,
    SERIAL_SHIPPED,
    SET_SCAN_OUTCOME,
    SET_TRANSACTION_EVENT,
    STATION_STATE,
)

_VOIDABLE = ("backflush", "scrap", "build")


class OpenTransaction(ABC):
    """Running statements inside the unit of work's open transaction."""

    @abstractmethod
    def _execute(self, statement: Any) -> Any:
        """A SQLAlchemy Core statement."""

    @abstractmethod
    def _sql(self, statement: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Plain SQL on the driver's connection (the scan path)."""

    @abstractmethod
    def _insert(self, statement: str, parameters: tuple[Any, ...]) -> int:
        """Plain SQL inserting one row; the row's new integer primary key."""


class ScanJournal(OpenTransaction):
    """Every scan as read, with its outcome."""

    def add_scan(self, scan: ScanRecord, status: str, reason: str | None) -> int:
        return self._insert(ADD_SCAN, scan_values(scan, status, reason))

    def set_scan_outcome(self, scan_id: int, status: str, reason: str | None) -> None:
        self._sql(SET_SCAN_OUTCOME, (status, reason, scan_id))


class TransactionLog(OpenTransaction):
    """Backflushes, scraps, builds, voids, receipts and counts, one row each."""

    def add_transaction(
        self,
        kind: str,
        at: Moment,
        *,
        part: str | None = None,
        quantity: Decimal | None = None,
        station: str | None = None,
        scanner: str | None = None,
        scan_id: int | None = None,
        bom_hash: str | None = None,
        reason: str | None = None,
    ) -> int:
        values = transaction_values(
            kind,
            at,
            part=part,
            quantity=quantity,
            station=station,
            scanner=scanner,
            scan_id=scan_id,
            bom_hash=bom_hash,
            reason=reason,
        )
        return self._insert(ADD_TRANSACTION, values)

    def set_transaction_event(self, txn_id: int, event_id: str) -> None:
        self._sql(SET_TRANSACTION_EVENT, (event_id, txn_id))

    def newest_voidable(self, station: str) -> TransactionRecord | None:
        txn = schema.transactions
        row = self._execute(
            select(txn)
            .where(txn.c.station == station, txn.c.kind.in_(_VOIDABLE))
            .order_by(txn.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else transaction_from_row(row)

    def mark_voided(self, txn_id: int, void_txn_id: int) -> None:
        self._execute(
            update(schema.transactions)
            .where(schema.transactions.c.id == txn_id)
            .values(voided_by=void_txn_id)
        )


class ShippedSerials(OpenTransaction):
    """Serial numbers already shipped, so a label is never backflushed twice."""

    def serial_shipped(self, gtin: str, serial: str) -> bool:
        return self._sql(SERIAL_SHIPPED, (gtin, serial)).fetchone() is not None

    def record_serial(self, gtin: str, serial: str, txn_id: int) -> None:
        self._sql(RECORD_SERIAL, (gtin, serial, txn_id))

    def free_serials(self, txn_id: int) -> None:
        self._execute(
            schema.shipped_serials.delete().where(schema.shipped_serials.c.txn_id == txn_id)
        )


class StationStates(OpenTransaction):
    """Per station: its mode and the ``QTY:`` or ``RSN:`` waiting for the next part scan."""

    def station_state(self, station: str) -> StationState:
        row = self._sql(STATION_STATE, (station,)).fetchone()
        return StationState() if row is None else station_state_from_row(row)

    def save_station_state(self, station: str, state: StationState) -> None:
        self._sql(SAVE_STATION_STATE, station_state_values(station, state))
