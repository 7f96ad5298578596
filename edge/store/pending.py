"""Rows a transaction has made but not yet written: written together, one statement per table.

A scan makes a journal row, a transaction row, a row per component in the
ledger, an event, perhaps a shipped serial. Written as they come, that is a
dozen statements a scan; kept here and written when the transaction commits
(or before a statement reads one of these tables), it is one ``executemany``
per table for the whole batch. The unit of work gives each row its id
beforehand (kept.py), so nothing waits for SQLite to assign one.

Rows are written parents first, as the foreign keys require: structures,
scans, transactions, then the ledger and shipped serials that point at them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from edge.store.rows import SCAN_COLUMNS
from edge.store.statements import (
    ADD_EVENT,
    ADD_SCAN,
    ADD_STRUCTURE,
    ADD_TRANSACTION,
    APPEND_LEDGER,
    RECORD_SERIAL,
)

# Where a scan row (its id first, then SCAN_COLUMNS) holds its outcome.
_STATUS: Final = 1 + SCAN_COLUMNS.index("status")
_REASON: Final = 1 + SCAN_COLUMNS.index("reason")

WriteMany = Callable[[str, list[Any]], None]


class PendingRows:
    """The rows of one transaction still to write, by table."""

    __slots__ = ("events", "ledger", "scans", "serial_keys", "serials", "structures",
                 "transactions")  # fmt: skip

    def __init__(self) -> None:
        self.structures: list[tuple[Any, ...]] = []
        self.scans: dict[int, list[Any]] = {}
        self.transactions: dict[int, list[Any]] = {}
        self.ledger: list[tuple[Any, ...]] = []
        self.serials: list[tuple[str, str, int]] = []
        self.serial_keys: set[tuple[str, str]] = set()
        self.events: list[tuple[Any, ...]] = []

    def __bool__(self) -> bool:
        return bool(self.scans or self.transactions or self.ledger or self.events
                    or self.structures or self.serials)  # fmt: skip

    def set_outcome(self, scan_id: int, status: str, reason: str | None) -> bool:
        """Change a pending scan's outcome; False when the scan was written already."""
        row = self.scans.get(scan_id)
        if row is None:
            return False
        row[_STATUS], row[_REASON] = status, reason
        return True

    def set_event(self, txn_id: int, event_id: str) -> bool:
        """Give a pending transaction its event; False when it was written already."""
        row = self.transactions.get(txn_id)
        if row is None:
            return False
        row[-1] = event_id
        return True

    def write(self, many: WriteMany) -> None:
        """Write every pending row, parents first, and forget them."""
        for statement, rows in (
            (ADD_STRUCTURE, self.structures),
            (ADD_SCAN, list(self.scans.values())),
            (ADD_TRANSACTION, list(self.transactions.values())),
            (APPEND_LEDGER, self.ledger),
            (RECORD_SERIAL, self.serials),
            (ADD_EVENT, self.events),
        ):
            if rows:
                many(statement, rows)
        self.clear()

    def clear(self) -> None:
        self.structures = []
        self.scans = {}
        self.transactions = {}
        self.ledger = []
        self.serials = []
        self.serial_keys = set()
        self.events = []
