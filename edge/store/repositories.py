"""The scan journal, transaction log, shipped serials and station state of the store.

Each is a small class of :class:`edge.domain.ports.InventoryStore` methods
that the unit of work (unit_of_work.py) inherits. New rows go to the
transaction's :class:`~edge.store.pending.PendingRows` with the ids the unit
of work hands out, and are written at commit; a read of one of these tables
writes what is pending first (``_flush``), so it sees the transaction's own
rows. Station state is read through the kept state (kept.py) and written at
commit, the newest per station.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from edge.domain.ports import Moment, ScanRecord, StationState, TransactionRecord
from edge.store.kept import KeptState, NextIds, Overlay
from edge.store.pending import PendingRows
from edge.store.rows import (
    scan_values,
    station_state_from_row,
    transaction_from_row,
    transaction_values,
)
from edge.store.statements import (
    FREE_SERIAL,
    MARK_VOIDED,
    NEWEST_VOIDABLE,
    SET_SCAN_OUTCOME,
    SET_TRANSACTION_EVENT,
    SHIPPED_AMONG,
    SHIPPED_BY,
    SHIPPED_ONE,
    STATION_STATE,
    row_groups,
)


class OpenTransaction(ABC):
    """What the parts of the store share inside the unit of work's open transaction."""

    _rows: PendingRows
    _overlay: Overlay
    _kept: KeptState

    @abstractmethod
    def _sql(self, statement: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Plain SQL on the driver's connection, in this transaction."""

    @abstractmethod
    def _flush(self) -> None:
        """Write the pending rows (before a statement that reads their tables)."""

    @abstractmethod
    def _next_ids(self) -> NextIds:
        """The ids the next rows take, for this transaction to advance."""


class ScanJournal(OpenTransaction):
    """Every scan as read, with its outcome."""

    def add_scan(self, scan: ScanRecord, status: str, reason: str | None) -> int:
        ids = self._next_ids()
        scan_id, ids.scan = ids.scan, ids.scan + 1
        self._rows.scans[scan_id] = [scan_id, *scan_values(scan, status, reason)]
        return scan_id

    def set_scan_outcome(self, scan_id: int, status: str, reason: str | None) -> None:
        if not self._rows.set_outcome(scan_id, status, reason):
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
        ids = self._next_ids()
        txn_id, ids.txn = ids.txn, ids.txn + 1
        self._rows.transactions[txn_id] = [txn_id, *values, None]  # the event comes later
        return txn_id

    def set_transaction_event(self, txn_id: int, event_id: str) -> None:
        if not self._rows.set_event(txn_id, event_id):
            self._sql(SET_TRANSACTION_EVENT, (event_id, txn_id))

    def newest_voidable(self, station: str) -> TransactionRecord | None:
        self._flush()
        row = self._sql(NEWEST_VOIDABLE, (station,)).fetchone()
        return None if row is None else transaction_from_row(row)

    def mark_voided(self, txn_id: int, void_txn_id: int) -> None:
        self._flush()
        self._sql(MARK_VOIDED, (void_txn_id, txn_id))


class ShippedSerials(OpenTransaction):
    """Serial numbers already shipped, so a label is never backflushed twice."""

    # What the database said of each (GTIN, serial) asked about: shipped or not.
    _serials_known: dict[tuple[str, str], bool]

    def expect_serials(self, pairs: Collection[tuple[str, str]]) -> None:
        """Ask once which of a batch's serials have shipped, instead of once per scan.

        Answered under the write lock, so the answers hold for the whole
        transaction; what it ships itself is in the pending rows.
        """
        wanted = [pair for pair in pairs if pair not in self._serials_known]
        if len(wanted) == 1:
            [pair] = wanted
            self._serials_known[pair] = self._sql(SHIPPED_ONE, pair).fetchone() is not None
            return
        for text, values, asked in row_groups(SHIPPED_AMONG, wanted):
            found = set(self._sql(text, values).fetchall())
            self._serials_known.update((pair, pair in found) for pair in asked)

    def serial_shipped(self, gtin: str, serial: str) -> bool:
        pair = (gtin, serial)
        if pair in self._rows.serial_keys:
            return True
        if pair not in self._serials_known:
            self.expect_serials([pair])
        return self._serials_known[pair]

    def record_serial(self, gtin: str, serial: str, txn_id: int) -> None:
        self._rows.serial_keys.add((gtin, serial))
        self._rows.serials.append((gtin, serial, txn_id))

    def free_serials(self, txn_id: int) -> None:
        self._flush()
        shipped = self._sql(SHIPPED_BY, (txn_id,)).fetchone()
        if shipped is not None and None not in shipped:
            self._sql(FREE_SERIAL, (*shipped, txn_id))
        self._serials_known.clear()  # a freed serial may ship again


class StationStates(OpenTransaction):
    """Per station: its mode and the ``QTY:`` or ``RSN:`` waiting for the next part scan."""

    def station_state(self, station: str) -> StationState:
        overlay = self._overlay
        state = overlay.stations.get(station) or self._kept.stations.get(station)
        if state is None:
            # What the database holds: this transaction writes its own at commit.
            row = self._sql(STATION_STATE, (station,)).fetchone()
            state = StationState() if row is None else station_state_from_row(row)
            self._kept.stations[station] = state
        return state

    def save_station_state(self, station: str, state: StationState) -> None:
        # Every accepted part scan saves the station's state, mostly as it was
        # (nothing pending): then there is nothing to write.
        if state == self.station_state(station):
            return
        self._overlay.stations[station] = state
        self._overlay.unsaved_stations.add(station)
