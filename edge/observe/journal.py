"""The operations view's own reads of the database: one read-only connection, one lock.

Never on the writer's thread. The scan journal is tallied incrementally: the
first read counts every row (``GROUP BY``, once, at start), and each later one
reads only the rows above the highest id already counted, so the counters of
``/metrics`` equal the journal by construction — scans journaled by another
process (``edge scan``) included, and after a restart too. Row ids grow with
commit order (SQLite has one writer at a time) and journal rows are never
updated after their commit, so nothing is counted twice or missed.

The last 20 scans of each station are kept from the same reads; a station's
pending ``QTY:``/``RSN:`` and its low parts are read when a page asks.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from edge.domain.ports import Moment
from edge.domain.quantity import format_quantity
from edge.domain.scanning import CONTROL_TTL_S
from edge.domain.stock import stock_state
from edge.observe.words import scan_words
from edge.store.queries import OutboxSummary, connect_read_only, outbox_summary
from edge.store.rows import STATION_STATE_COLUMNS, optional_quantity, station_state_from_row

RECENT: Final = 20  # scans a station page lists
# A station's parts: those its newest transactions moved (bounded, so the read stays cheap).
STATION_TRANSACTIONS: Final = 200
# The low parts a page lists, the furthest below first; a screen read from 2 m holds no more.
LOW_SHOWN: Final = 10
_BATCH: Final = 5000
CACHE_KIB: Final = 256

_SCAN_KEYS = ("scan_id", "station", "scanner", "code", "status", "reason", "at", "gtin", "serial")
_SCAN_SELECT = f"SELECT id, {', '.join(_SCAN_KEYS[1:])} FROM scans"  # noqa: S608 - fixed names
_STATION_STATE = (
    f"SELECT {', '.join(STATION_STATE_COLUMNS[1:])} FROM station_state "  # noqa: S608
    "WHERE station = ?"
)
_STATION_PARTS = (
    "SELECT i.part, i.description, i.reorder_point, coalesce(b.on_hand, '0') "
    "FROM items i LEFT JOIN balances b ON b.part = i.part WHERE i.part IN ("
    " SELECT DISTINCT l.part FROM ledger l JOIN"
    " (SELECT id FROM transactions WHERE station = ? ORDER BY id DESC LIMIT ?) t"
    " ON l.txn_id = t.id) ORDER BY i.part"
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A ``QTY:`` or ``RSN:`` waiting at a station, and how long it still waits."""

    value: str
    remaining_s: float


@dataclass(frozen=True, slots=True)
class LowPart:
    part: str
    description: str
    on_hand: str
    reorder_point: str | None
    state: str  # low | negative


def shown_scan(row: dict[str, Any]) -> dict[str, Any]:
    """A journal row as the pages and ``edge status`` show it: with its plain words."""
    return {**row, "words": scan_words(row)}


class JournalReader:
    """The view's reads, serialised on one read-only connection (any thread may call)."""

    def __init__(self, database: Path, stations: Iterable[str]) -> None:
        self.database = database
        self._stations = list(stations)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._last_id = -1  # nothing read yet
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.last_at: dict[str, str] = {}
        self.recent: dict[str, deque[dict[str, Any]]] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = connect_read_only(self.database, any_thread=True)
            self._connection.execute("PRAGMA query_only = ON")
            # The daemon's memory budget: its other connections keep 1 MiB each; these reads
            # touch few pages (the journal's newest rows, one station's state and parts).
            self._connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # --- the journal ------------------------------------------------------------------
    def refresh(self) -> None:
        """Take in the rows journaled since the last call (all of them the first time)."""
        with self._lock:
            connection = self._connect()
            connection.execute("BEGIN")
            try:
                if self._last_id < 0:
                    self._first_read(connection)
                else:
                    self._read_new(connection)
            finally:
                connection.execute("ROLLBACK")

    def _first_read(self, connection: sqlite3.Connection) -> None:
        self._last_id = connection.execute("SELECT coalesce(max(id), 0) FROM scans").fetchone()[0]
        grouped = connection.execute(
            "SELECT station, status, coalesce(reason, ''), count(*), max(at) FROM scans "
            "WHERE id <= ? GROUP BY station, status, reason", (self._last_id,)
        )  # fmt: skip
        for station, status, reason, count, at in grouped:
            self.counts[station, status, reason] += count
            self.last_at[station] = max(self.last_at.get(station, at), at)
        for station in self._stations:
            rows = connection.execute(
                f"{_SCAN_SELECT} WHERE station = ? AND id <= ? ORDER BY id DESC LIMIT ?",
                (station, self._last_id, RECENT),
            ).fetchall()
            recent = self._recent(station)
            for row in reversed(rows):
                recent.append(shown_scan(dict(zip(_SCAN_KEYS, row, strict=True))))

    def _read_new(self, connection: sqlite3.Connection) -> None:
        while True:
            rows = connection.execute(
                f"{_SCAN_SELECT} WHERE id > ? ORDER BY id LIMIT ?", (self._last_id, _BATCH)
            ).fetchall()
            for row in rows:
                scan = dict(zip(_SCAN_KEYS, row, strict=True))
                station = scan["station"]
                self.counts[station, scan["status"], scan["reason"] or ""] += 1
                self.last_at[station] = scan["at"]
                self._recent(station).append(shown_scan(scan))
                self._last_id = scan["scan_id"]
            if len(rows) < _BATCH:
                return

    def _recent(self, station: str) -> deque[dict[str, Any]]:
        recent = self.recent.get(station)
        if recent is None:
            recent = self.recent[station] = deque(maxlen=RECENT)
        return recent

    def station_scans(self, station: str) -> list[dict[str, Any]]:
        """The station's newest scans, newest first."""
        with self._lock:
            return list(reversed(self.recent.get(station, ())))

    def tally(self) -> tuple[dict[tuple[str, str, str], int], dict[str, str]]:
        """Scans by (station, status, reason) and each station's last scan time, as of now."""
        with self._lock:
            return dict(self.counts), dict(self.last_at)

    # --- a station's state ----------------------------------------------------------
    def pending(self, station: str, mode: str, now: Moment) -> dict[str, Pending | None]:
        """The station's pending QTY and RSN with their remaining seconds (expired: None)."""
        with self._lock:
            row = self._connect().execute(_STATION_STATE, (station,)).fetchone()
        result: dict[str, Pending | None] = {"qty": None, "reason": None}
        if row is None:
            return result
        state = station_state_from_row(tuple(row))
        if state.mode is not None and state.mode != mode:
            return result  # the station changed mode: the domain drops what was pending
        for key, control in (("qty", state.qty), ("reason", state.reason)):
            if control is None:
                continue
            elapsed = now.seconds_since(control.at)
            if elapsed is not None and 0 <= elapsed <= CONTROL_TTL_S:
                result[key] = Pending(control.value, round(CONTROL_TTL_S - elapsed, 1))
        return result

    def low_parts(self, station: str) -> tuple[list[LowPart], int]:
        """The parts the station's newest transactions moved that are low or negative.

        At most LOW_SHOWN of them, negative ones first, then the lowest against its
        reorder point; and how many there are in all.
        """
        with self._lock:
            rows = (
                self._connect().execute(_STATION_PARTS, (station, STATION_TRANSACTIONS)).fetchall()
            )
        found: list[tuple[tuple[int, Decimal], LowPart]] = []
        for part, description, reorder_point, on_hand in rows:
            point = optional_quantity(reorder_point)
            quantity = Decimal(on_hand)
            state = stock_state(quantity, point)
            if state in ("low", "negative"):
                shown_point = None if point is None else format_quantity(point)
                order = (0, quantity) if state == "negative" else (1, quantity - (point or 0))
                found.append((order, LowPart(part, description, format_quantity(quantity),
                                             shown_point, state)))  # fmt: skip
        found.sort(key=lambda item: item[0])
        return [part for _, part in found[:LOW_SHOWN]], len(found)

    def outbox(self) -> OutboxSummary:
        with self._lock:
            return outbox_summary(self._connect())
