"""The events the node publishes, one frozen dataclass per type, and their payloads.

Each event class declares its ``TYPE`` (the payload's ``type`` and the last
level of its topic) and its fields, in the order the payload writes them.
:data:`EVENT_TYPES` lists every type. :mod:`edge.domain.payloads` is the one
place an event becomes a payload (the :class:`Envelope` every event shares,
then the event's own fields) and a stored payload is read back.

The retained ``stock/{part}`` message is not an event; its payload is in
:mod:`edge.domain.stock_message`.

How a field is written follows from its declared type, so the shape of each
payload is read from the classes alone:

* ``Decimal`` is an exact JSON number;
* ``UomLines`` is ``[{"part": ..., "quantity": ..., "uom": ...}, ...]``;
* ``tuple[int, ...]`` is a JSON array;
* ``PartBalances`` is ``[{"part": ..., "on_hand": ..., "uom": ...}, ...]``;
* a field declared with :data:`ONLY_WHEN_TRUE` is written only when true.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar

from edge.domain.event_layout import (
    ADDED_IN_2,
    ADDED_IN_3,
    ONLY_WHEN_TRUE,
    CommandErrors,
    PartBalances,
    UomLines,
)
from edge.domain.quantity import format_quantity

# "2": ``uom`` beside part quantities; station and scanner of a rejected scan.
# "3": kanban-empty and variance events, a receipt's card; the stock message explains itself.
EVENT_SCHEMA = "3"

REPLAYED = "replayed"
"""The key that marks a payload sent again after an outage or a lost connection."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a payload starts with: ``event_id``, ``type``, ``schema``, then the rest in order."""

    event_id: str
    occurred_at: str  # RFC 3339 UTC
    stream: str  # a UUID made with the database, replaced by every restore
    seq: int  # 1, 2, 3, ... within the stream
    boot: int
    site: str
    node: str


class Event(ABC):
    """One published event; subclasses are frozen dataclasses with a ``TYPE``."""

    __slots__ = ()
    TYPE: ClassVar[str]

    @abstractmethod
    def summary(self) -> str:
        """One line for people (``edge events``, the demo)."""


# --- the event types, in the order SPEC §6 lists them ----------------------------


@dataclass(frozen=True, slots=True)
class BomEvent(Event):
    """What a transaction that exploded a BOM carries: backflush, scrap and build."""

    part: str
    quantity: Decimal
    uom: str | None = field(metadata=ADDED_IN_2)  # the part's; each line has its component's
    lines: UomLines
    bom_hash: str
    station: str | None
    scanner: str | None
    scan_id: int | None

    def summary(self) -> str:
        lines = "1 line" if len(self.lines) == 1 else f"{len(self.lines)} lines"
        return f"{format_quantity(self.quantity)} x {self.part}, {lines}"


@dataclass(frozen=True, slots=True)
class BackflushEvent(BomEvent):
    TYPE: ClassVar[str] = "backflush"


@dataclass(frozen=True, slots=True)
class ScrapEvent(BomEvent):
    TYPE: ClassVar[str] = "scrap"

    reason: str | None

    def summary(self) -> str:
        # Named, not super(): a slotted dataclass is a new class that super() cannot see.
        return f"{BomEvent.summary(self)}, reason {self.reason}"


@dataclass(frozen=True, slots=True)
class BuildEvent(BomEvent):
    TYPE: ClassVar[str] = "build"


@dataclass(frozen=True, slots=True)
class IssueEvent(BomEvent):
    """Stock used for something that ships nothing (engineering, test, kaizen), with why."""

    TYPE: ClassVar[str] = "issue"

    reason: str

    def summary(self) -> str:
        return f"{BomEvent.summary(self)}, reason {self.reason}"


@dataclass(frozen=True, slots=True)
class VoidEvent(Event):
    """The exact reversal of a backflush, scrap or build; ``lines`` are the ledger rows."""

    TYPE: ClassVar[str] = "void"

    voided_event_id: str | None
    voided_type: str
    part: str | None
    quantity: Decimal | None
    uom: str | None = field(metadata=ADDED_IN_2)
    lines: UomLines
    station: str | None
    scanner: str | None
    scan_id: int | None

    def summary(self) -> str:
        return f"voided {self.voided_type} of {self.part}"


@dataclass(frozen=True, slots=True)
class ReceiptEvent(Event):
    """Goods received; ``reorder_id`` is set when exactly one reorder was filled."""

    TYPE: ClassVar[str] = "receipt"

    part: str
    quantity: Decimal
    uom: str | None = field(metadata=ADDED_IN_2)
    reorder_id: int | None
    reorder_ids: tuple[int, ...]
    on_hand: Decimal
    on_order: Decimal
    card: str | None = field(default=None, metadata=ADDED_IN_3)  # a kanban card refilled

    def summary(self) -> str:
        card = f" (card {self.card})" if self.card is not None else ""
        return f"{self.part} received {self.quantity}{card}"


@dataclass(frozen=True, slots=True)
class CountEvent(Event):
    """A cycle count, or an opening balance (``opening`` true)."""

    TYPE: ClassVar[str] = "count"

    part: str
    counted: Decimal
    previous_on_hand: Decimal  # the book when counted
    variance: Decimal
    uom: str | None = field(metadata=ADDED_IN_2)
    opening: bool = field(default=False, metadata=ONLY_WHEN_TRUE)
    counted_at: str | None = field(default=None, metadata=ONLY_WHEN_TRUE)  # an earlier count

    def summary(self) -> str:
        return f"{self.part} counted {self.counted}, variance {self.variance}"


@dataclass(frozen=True, slots=True)
class VarianceEvent(Event):
    """A count whose variance is beyond the part's tolerance of its consumption since the last.

    ``consumed`` is the backflush, scrap and issue since the previous count
    (``previous_counted_at``; None for the part's first count: since its first
    record). ``variance_pct`` is the variance as % of it; None when nothing
    was consumed (then any variance is beyond tolerance).
    """

    TYPE: ClassVar[str] = "variance"

    part: str
    counted: Decimal
    book: Decimal
    variance: Decimal
    uom: str | None
    consumed: Decimal
    consumed_backflush: Decimal
    consumed_scrap: Decimal
    consumed_issue: Decimal
    consumed_through_bom: Decimal
    variance_pct: Decimal | None
    tolerance_pct: Decimal
    counted_at: str
    previous_counted_at: str | None

    def summary(self) -> str:
        pct = "" if self.variance_pct is None else f" ({self.variance_pct} % of use)"
        return f"{self.part} variance {self.variance}{pct}, tolerance {self.tolerance_pct} %"


@dataclass(frozen=True, slots=True)
class KanbanEmptyEvent(Event):
    """A kanban card scanned empty: refill its container. Its part's use is reconciled.

    One container was used since ``since`` (the part's previous empty card, or
    when its cards were loaded); ``consumed`` is the backflush, scrap and issue
    recorded in that time and ``reconciliation`` = ``consumed`` -
    ``container_qty`` (-8: 8 used without a transaction). ``adjusted`` when
    the reconciliation was also posted to stock (``kanban_reconcile =
    "adjust"``, ledger kind ``kanban-adjust``). ``consumed`` is net of voids:
    a void of a transaction from before ``since`` takes its use back here
    (the window before was reconciled with it), so it may be negative; the
    windows together always hold the part's recorded use.
    """

    TYPE: ClassVar[str] = "kanban-empty"

    card: str
    part: str
    container_qty: Decimal
    uom: str | None
    location: str
    consumed: Decimal
    since: str
    reconciliation: Decimal
    adjusted: bool
    on_hand: Decimal
    station: str | None
    scanner: str | None
    scan_id: int | None

    def summary(self) -> str:
        verb = "adjusted" if self.adjusted else "reconciliation"
        return f"card {self.card} of {self.part} empty, {verb} {self.reconciliation}"


@dataclass(frozen=True, slots=True)
class LowStockEvent(Event):
    TYPE: ClassVar[str] = "low-stock"

    part: str
    on_hand: Decimal
    reorder_point: Decimal | None
    negative: bool
    uom: str | None = field(metadata=ADDED_IN_2)

    def summary(self) -> str:
        return f"{self.part} on hand {self.on_hand}{' NEGATIVE' if self.negative else ''}"


@dataclass(frozen=True, slots=True)
class ReorderEvent(Event):
    """A reorder raised; ``quantity`` is the suggested order quantity."""

    TYPE: ClassVar[str] = "reorder"

    reorder_id: int
    part: str
    quantity: Decimal
    on_hand: Decimal
    on_order: Decimal
    reorder_point: Decimal | None
    uom: str | None = field(metadata=ADDED_IN_2)

    def summary(self) -> str:
        return f"{self.part} order {self.quantity} (reorder {self.reorder_id})"


@dataclass(frozen=True, slots=True)
class ReorderClosedEvent(Event):
    TYPE: ClassVar[str] = "reorder-closed"

    reorder_id: int
    part: str
    reason: str  # received | cancelled

    def summary(self) -> str:
        return f"reorder {self.reorder_id} {self.reason}"


@dataclass(frozen=True, slots=True)
class ScanRejectedEvent(Event):
    TYPE: ClassVar[str] = "scan-rejected"

    scan_id: int
    code: str
    reason: str
    station: str | None = field(metadata=ADDED_IN_2)
    scanner: str | None = field(metadata=ADDED_IN_2)

    def summary(self) -> str:
        return f"{self.reason}: {self.code[:40]}"


@dataclass(frozen=True, slots=True)
class RestoredEvent(Event):
    """``edge restore`` put a backup in place: the first event (seq 1) of a new stream.

    ``previous_stream`` and ``previous_last_seq`` are the backup's: events of
    that stream after that seq are no longer in the node's records.
    ``previous_stream`` is None for a backup made before events had streams.
    ``replaced_stream`` and ``replaced_last_seq`` describe the database the
    restore replaced (None when there was none), which is kept beside it.
    """

    TYPE: ClassVar[str] = "restored"

    previous_stream: str | None
    previous_last_seq: int
    replaced_stream: str | None
    replaced_last_seq: int | None

    def summary(self) -> str:
        lost = ""
        if self.replaced_last_seq is not None and self.replaced_stream == self.previous_stream:
            lost = f"; seq {self.previous_last_seq + 1}..{self.replaced_last_seq} lost"
        return f"backup restored at seq {self.previous_last_seq} of {self.previous_stream}{lost}"


@dataclass(frozen=True, slots=True)
class OpeningBalancesEvent(Event):
    """Opening balances of many parts (an opening-stock import), instead of one event each.

    An import of N parts sends ``batches`` = ceil(N / OPENING_PARTS_PER_EVENT)
    of these, numbered by ``batch`` from 1; each part is in exactly one.
    """

    TYPE: ClassVar[str] = "opening-balances"

    batch: int
    batches: int
    parts: PartBalances

    def summary(self) -> str:
        return f"{len(self.parts)} opening balances (batch {self.batch} of {self.batches})"


@dataclass(frozen=True, slots=True)
class CommandResultEvent(Event):
    """The answer to a command from a central system (SPEC §11), applied or not.

    ``command_id`` and ``command_type`` are None when the command could not be
    read that far; ``errors`` are ``{"path": JSON path, "message": ...}``;
    ``catalog_version`` is the catalog's after the command. A ``duplicate``
    repeats the first answer's errors and catalog version, and says its status
    in ``first_status``.
    """

    TYPE: ClassVar[str] = "command-result"

    command_id: str | None
    command_type: str | None
    status: str  # applied | duplicate | rejected
    errors: CommandErrors
    catalog_version: int
    # A duplicate's: the status the command's first delivery got.
    first_status: str | None = field(default=None, metadata=ONLY_WHEN_TRUE)

    def summary(self) -> str:
        first = f": {self.errors[0]['path']} {self.errors[0]['message']}" if self.errors else ""
        return f"{self.command_type} {self.command_id} {self.status}{first}"


EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType({
    cls.TYPE: cls
    for cls in (BackflushEvent, ScrapEvent, BuildEvent, IssueEvent, VoidEvent, ReceiptEvent,
                CountEvent, LowStockEvent, ReorderEvent, ReorderClosedEvent, ScanRejectedEvent,
                RestoredEvent, OpeningBalancesEvent, CommandResultEvent, KanbanEmptyEvent,
                VarianceEvent)
})  # fmt: skip
"""Every event type by its ``TYPE``."""
