"""What the domain needs from storage and time, as abstract interfaces.

The SQLite unit of work implements :class:`InventoryStore`; unit tests use an
in-memory subclass. Every method is called inside one open transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple, Protocol

from edge.domain import stock
from edge.domain.bom import BomGraph, Lines
from edge.domain.model import BomLine, Card, Item, Reorder
from edge.domain.usage import NO_USAGE, CountRecord, DailyUse, LastCount, Usage

# The transactions a station's VOID reverses: those a part scan posts there.
VOIDABLE_KINDS: Final = ("backflush", "scrap", "build", "issue")
# What a station's VOID looks back to: the transactions it reverses, and a kanban card
# scan, which it does not reverse and never steps past to an older shipment.
VOID_STOPS: Final = (*VOIDABLE_KINDS, "kanban-empty")


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""

    def monotonic(self) -> float: ...

    def boot_id(self) -> str:
        """Identifies the current boot: monotonic times compare only within one."""


class Balance(NamedTuple):
    """A part's stock and what explains it: its use so far, its recent daily use, its last count.

    A named tuple, not a frozen dataclass: every component of every scan makes
    one, with its :class:`Usage` and :class:`~edge.domain.reorder.LowStockVerdict`,
    and a frozen dataclass of five fields took 600 ns to make against 190 ns
    (CPython 3.11), each field set through ``object.__setattr__``.
    """

    on_hand: Decimal
    armed: bool = True
    used: Usage = NO_USAGE  # cumulative, since the part's first record
    daily: DailyUse = ()
    counted: LastCount | None = None

    @property
    def consumed_since_count(self) -> Decimal:
        """Backflush, scrap and issue since the last count (since the first record if none)."""
        if self.counted is None:
            return self.used.total
        return self.used.since(self.counted.used).total


@dataclass(frozen=True, slots=True)
class KanbanMark:
    """Where a kanban part's next reconciliation starts: its total used then, and when."""

    used: Decimal
    at: str  # RFC 3339 UTC


class Moment(NamedTuple):
    """When something happened: wall time for people, monotonic time for windows."""

    wall: datetime
    monotonic: float
    boot_id: str

    def seconds_since(self, earlier: Moment) -> float | None:
        """Elapsed monotonic seconds, or None when not comparable (another boot)."""
        if earlier.boot_id != self.boot_id:
            return None
        return self.monotonic - earlier.monotonic


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    id: int
    kind: str  # backflush | scrap | build | issue | void | receipt | count | opening | kanban-empty
    part: str | None
    quantity: Decimal | None
    station: str | None
    scanner: str | None
    scan_id: int | None
    event_id: str | None
    at: Moment
    voided_by: int | None = None


@dataclass(frozen=True, slots=True)
class PendingControl:
    """A ``QTY:`` or ``RSN:`` waiting for the station's next part scan."""

    value: str
    at: Moment
    scan_id: int


@dataclass(frozen=True, slots=True)
class StationState:
    qty: PendingControl | None = None
    reason: PendingControl | None = None
    mode: str | None = None


class ScanRecord(NamedTuple):
    scanner: str
    station: str
    data: bytes
    code: str
    symbology: str | None
    at: Moment
    gtin: str | None = None
    serial: str | None = None
    batch: str | None = None


class InventoryStore(ABC):
    """Reads and writes of one transaction. Quantities are exact decimals."""

    # --- catalog -----------------------------------------------------------
    @abstractmethod
    def item(self, part: str) -> Item | None: ...

    @abstractmethod
    def part_for_alias(self, code: str) -> str | None: ...

    @abstractmethod
    def bom_graph(self) -> BomGraph: ...

    @abstractmethod
    def store_structure(self, bom_hash: str, lines: Lines) -> None:
        """Keep an exploded structure once, by its hash (idempotent)."""

    # --- stock -------------------------------------------------------------
    @abstractmethod
    def balance(self, part: str) -> Balance:
        """The part's balance; ``Balance(0, armed=True)`` when it has none."""

    @abstractmethod
    def save_balance(self, part: str, balance: Balance) -> None: ...

    @abstractmethod
    def has_ledger_rows(self, part: str) -> bool: ...

    @abstractmethod
    def moved_since(self, part: str, since: datetime) -> Decimal:
        """What the ledger posted for ``part`` in transactions after ``since`` (UTC)."""

    @abstractmethod
    def usage_since(self, part: str, since: datetime) -> Usage:
        """What ``part`` was used for in transactions after ``since`` (UTC), by kind."""

    @abstractmethod
    def add_count(self, txn_id: int, record: CountRecord) -> None:
        """Keep a count with its book and the use since the previous one (variance reports)."""

    @abstractmethod
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
    ) -> int: ...

    @abstractmethod
    def set_transaction_event(self, txn_id: int, event_id: str) -> None: ...

    @abstractmethod
    def append_ledger(
        self,
        txn_id: int,
        part: str,
        quantity: Decimal,
        kind: str,
        *,
        bom_hash: str | None,
        scan_id: int | None,
    ) -> None: ...

    @abstractmethod
    def ledger_rows(self, txn_id: int) -> list[tuple[str, Decimal]]: ...

    @abstractmethod
    def newest_voidable(self, station: str) -> TransactionRecord | None:
        """The newest accepted :data:`VOID_STOPS` transaction at the station, voided or not."""

    @abstractmethod
    def mark_voided(self, txn_id: int, void_txn_id: int) -> None: ...

    # --- serials -----------------------------------------------------------
    @abstractmethod
    def serial_shipped(self, gtin: str, serial: str) -> bool: ...

    @abstractmethod
    def record_serial(self, gtin: str, serial: str, txn_id: int) -> None: ...

    @abstractmethod
    def free_serials(self, txn_id: int) -> None: ...

    # --- reorders ----------------------------------------------------------
    @abstractmethod
    def open_reorders(self, part: str) -> list[Reorder]:
        """Open reorders of the part, oldest first."""

    def on_order(self, part: str) -> Decimal:
        """What the part's open reorders will still bring in (a store may keep it)."""
        return stock.on_order(self.open_reorders(part))

    @abstractmethod
    def reorder(self, reorder_id: int) -> Reorder | None: ...

    @abstractmethod
    def add_reorder(self, part: str, quantity: Decimal, at: Moment) -> int: ...

    @abstractmethod
    def update_reorder(
        self, reorder_id: int, *, received: Decimal, close_reason: str | None, at: Moment
    ) -> None: ...

    @abstractmethod
    def set_reorder_reference(self, reorder_id: int, reference: str, at: Moment) -> None:
        """Keep a central system's reference (a purchase order number) on the reorder."""

    # --- kanban cards ------------------------------------------------------
    @abstractmethod
    def card(self, code: str) -> Card | None:
        """The kanban card with this id, or None when the code is none."""

    @abstractmethod
    def cards_of(self, part: str) -> list[Card]:
        """The part's kanban cards, by id."""

    @abstractmethod
    def save_card(self, card: Card, at: Moment) -> None:
        """Keep a card's new state (full or empty, and since when)."""

    @abstractmethod
    def kanban_mark(self, part: str) -> KanbanMark | None: ...

    @abstractmethod
    def save_kanban_mark(self, part: str, mark: KanbanMark) -> None: ...

    # --- stations ----------------------------------------------------------
    @abstractmethod
    def station_state(self, station: str) -> StationState: ...

    @abstractmethod
    def save_station_state(self, station: str, state: StationState) -> None: ...

    # --- scan journal ------------------------------------------------------
    @abstractmethod
    def add_scan(self, scan: ScanRecord, status: str, reason: str | None) -> int: ...

    @abstractmethod
    def set_scan_outcome(self, scan_id: int, status: str, reason: str | None) -> None: ...

    # --- outbox ------------------------------------------------------------
    @abstractmethod
    def stream(self) -> str:
        """The event stream's UUID: made with the database, replaced by every restore."""

    @abstractmethod
    def next_seq(self) -> int:
        """The stream's next event seq (gapless, rolled back with the transaction)."""

    @abstractmethod
    def boot(self) -> int: ...

    @abstractmethod
    def add_event(
        self, seq: int, event_id: str, event_type: str, payload: dict[str, Any]
    ) -> None: ...

    @abstractmethod
    def restate_stock(self, part: str, at: datetime) -> None:
        """Make the part's retained stock message due again, as of ``at``.

        The message is rendered from the part's stored state when it is
        published (:class:`~edge.domain.stock_message.StockSnapshot`), not
        on the scan path: a transaction only says which parts changed.
        """


__all__ = [
    "Balance",
    "BomLine",
    "Clock",
    "InventoryStore",
    "KanbanMark",
    "Moment",
    "PendingControl",
    "ScanRecord",
    "StationState",
    "TransactionRecord",
]
