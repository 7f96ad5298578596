"""What a process's transactions keep for the next ones: balances, stations, ids, counters.

The scan writer commits a batch every few milliseconds, and each batch would
otherwise read back what the last one wrote: the balances of the parts it
touches, their quantity on order, the station's pending ``QTY:``, the next
scan and transaction ids, the event seq. A :class:`KeptState` holds them
between transactions, and a unit of work reads through it.

It is right only while no other process wrote. Every unit of work raises the
``writes`` counter when it commits, in the same transaction; the next one
compares the counter with the value the kept state was left at and, when
another process (``edge scan``, ``edge receive``, an import) committed in
between, starts over from the database. That is one small query per
transaction, under the write lock, so nothing can change between the check
and the use; on the scan writer's held connection it is SQLite's own
``PRAGMA data_version``, which changes only when another connection
committed, and the query only then (or after the writer's own connection
changed the catalog). The relay's writes (what the broker acknowledged) do not go
through a unit of work and touch nothing kept here.

A unit of work changes none of this until its commit has returned: what it
wrote stays in its own overlay, so a rollback leaves the kept state as the
last commit left it, and the next transaction reads on from there.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy.engine import Connection

from edge.domain.lru import Lru
from edge.domain.ports import Balance, StationState
from edge.store.rows import DailyTexts

# A balance with its use marks is about 1 kB kept; a miss is one indexed query.
BALANCES_KEPT: Final = 1024
ON_ORDER_KEPT: Final = 4096
STRUCTURES_KEPT: Final = 1024


@dataclass(frozen=True, slots=True)
class Markers:
    """What tells whether the database is as a kept state was left."""

    catalog: int  # the catalog's version (imports raise it)
    writes: int  # raised by every unit of work's commit
    stream: str  # replaced by a restore
    seq_base: int  # the position the stream started after


@dataclass(slots=True)
class NextIds:
    """The ids the next rows take: the tables' largest plus one, and the next outbox position."""

    scan: int
    txn: int
    position: int


class KeptState:
    """Read-through state, right while the ``writes`` counter and the stream are unchanged."""

    def __init__(self) -> None:
        self.markers: Markers | None = None
        self._connection: Connection | None = None
        self.driver: sqlite3.Connection | None = None  # the held connection's own
        # SQLite's data_version on the held connection when the markers were read.
        self.data_version: int | None = None
        # The texts of the daily use written last: right whatever the database holds.
        self.daily_texts = DailyTexts(BALANCES_KEPT)
        self._empty()

    @property
    def connection(self) -> Connection | None:
        """Held for all while the scan writer runs (InventoryService.holding_a_connection)."""
        return self._connection

    @connection.setter
    def connection(self, connection: Connection | None) -> None:
        self._connection = connection
        # Looked up once: SQLAlchemy's way to it costs every transaction a few calls.
        self.driver = None if connection is None else connection.connection.driver_connection
        self.data_version = None  # a version is one connection's own count

    def _empty(self) -> None:
        self.balances: Lru[str, Balance] = Lru(BALANCES_KEPT)
        self.on_order: Lru[str, Decimal] = Lru(ON_ORDER_KEPT)
        self.stations: dict[str, StationState] = {}
        self.structures: Lru[str, bool] = Lru(STRUCTURES_KEPT)
        self.ids: NextIds | None = None
        self.boot: int | None = None

    def check(self, markers: Markers) -> None:
        """Forget everything unless the database is still as this state was left."""
        kept = self.markers
        if kept is None or (kept.writes, kept.stream) != (markers.writes, markers.stream):
            self._empty()
        self.markers = markers

    def merge(self, overlay: Overlay, writes: int) -> None:
        """Take what a committed transaction wrote; ``writes`` is the counter it left."""
        self.balances.update(overlay.balances.items())
        if overlay.on_order:
            self.on_order.update(overlay.on_order.items())
        self.stations.update(overlay.stations)
        if overlay.structures:
            self.structures.update((bom_hash, True) for bom_hash in overlay.structures)
        if overlay.ids is not None:
            self.ids = overlay.ids
        if overlay.boot is not None:
            self.boot = overlay.boot
        if self.markers is not None:
            kept = self.markers  # not dataclasses.replace: this runs at every commit
            self.markers = Markers(kept.catalog, writes, kept.stream, kept.seq_base)


class Overlay:
    """What one transaction changed of the kept state; the kept state takes it at commit.

    A plain class: every transaction makes two, and a dataclass's fields with
    factories cost its ``__init__`` a test and a call each.
    """

    __slots__ = ("balances", "boot", "ids", "ids_written", "on_order", "restated",
                 "stations", "structures", "unsaved_balances", "unsaved_stations")  # fmt: skip

    def __init__(self) -> None:
        self.balances: dict[str, Balance] = {}
        self.unsaved_balances: set[str] = set()
        self.on_order: dict[str, Decimal] = {}
        self.stations: dict[str, StationState] = {}
        self.unsaved_stations: set[str] = set()
        self.structures: set[str] = set()
        self.ids: NextIds | None = None
        self.ids_written = 0  # the next outbox position as the seq counter has it
        self.boot: int | None = None
        # Parts whose retained stock message is due again, as of when (rendered by the relay).
        self.restated: dict[str, datetime] = {}

    def copy(self) -> Overlay:
        """A copy to go back to (a savepoint's rollback)."""
        copied = Overlay()
        copied.balances, copied.unsaved_balances = dict(self.balances), set(self.unsaved_balances)
        copied.on_order, copied.stations = dict(self.on_order), dict(self.stations)
        copied.unsaved_stations = set(self.unsaved_stations)
        copied.structures = set(self.structures)
        copied.ids = None if self.ids is None else replace(self.ids)
        copied.ids_written, copied.boot = self.ids_written, self.boot
        copied.restated = dict(self.restated)
        return copied
