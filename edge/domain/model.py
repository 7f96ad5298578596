"""Items, BOM lines and the other plain records of the inventory."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from edge.domain.quantity import ZERO, sub

MAX_PART_LENGTH = 64


class PartError(ValueError):
    """A text that is not a valid part number."""


def validate_part(text: str) -> str:
    """Return the trimmed part number, or raise :class:`PartError`.

    1-64 characters after trimming, every one printable; case is kept.
    """
    part = text.strip()
    if not part:
        raise PartError("part number is empty")
    if len(part) > MAX_PART_LENGTH:
        raise PartError(f"part number is longer than {MAX_PART_LENGTH} characters")
    if not part.isprintable():
        raise PartError(f"part number {part!r} contains a non-printable character")
    return part


@dataclass(frozen=True, slots=True)
class ReorderPolicy:
    """How a part is replenished; ``reorder_point`` None means not managed."""

    reorder_point: Decimal | None = None
    reorder_qty: Decimal | None = None
    max_qty: Decimal | None = None
    order_multiple: Decimal | None = None
    lead_time_days: int | None = None

    @property
    def is_empty(self) -> bool:
        return all(
            value is None
            for value in (
                self.reorder_point,
                self.reorder_qty,
                self.max_qty,
                self.order_multiple,
                self.lead_time_days,
            )
        )


class Replenishment(StrEnum):
    """How a part is replenished: reorder events (SPEC §5), or kanban cards (§13)."""

    REORDER = "reorder"
    KANBAN = "kanban"  # an emptied container's card asks for a refill; no reorder events


@dataclass(frozen=True, slots=True)
class Item:
    part: str
    description: str = ""
    uom: str = "EA"
    stocked: bool = False
    policy: ReorderPolicy = field(default_factory=ReorderPolicy)
    aliases: tuple[str, ...] = ()
    replenishment: Replenishment = Replenishment.REORDER
    # A count's variance beyond this % of the consumption since the previous count
    # is reported (a ``variance`` event); None takes [inventory] count_tolerance_pct.
    count_tolerance_pct: Decimal | None = None

    @property
    def kanban(self) -> bool:
        return self.replenishment is Replenishment.KANBAN


@dataclass(frozen=True, slots=True)
class BomLine:
    parent: str
    component: str
    qty_per: Decimal
    scrap_pct: Decimal = Decimal(0)


KanbanReconcile = Literal["report", "adjust"]


@dataclass(frozen=True, slots=True)
class InventoryPolicy:
    """The [inventory] settings the rules apply; these defaults are the only ones."""

    # "report": an empty card's reconciliation is told (kanban-empty); "adjust": also posted.
    kanban_reconcile: KanbanReconcile = "report"
    # A count's variance beyond this % of the consumption since the previous count is
    # reported (a variance event), unless the item sets its own count_tolerance_pct.
    count_tolerance_pct: Decimal = Decimal(5)


DEFAULT_POLICY = InventoryPolicy()


class StationMode(StrEnum):
    SHIP = "ship"
    SCRAP = "scrap"
    BUILD = "build"
    ISSUE = "issue"  # stock used without a shipment: engineering, test, internal work
    RECEIVE = "receive"  # a kanban card scanned here is refilled: its container received


@dataclass(frozen=True, slots=True)
class Station:
    """What the core needs to know of a station.

    These defaults are the only ones: a [[station]] table in the config file that
    leaves a key out takes the default from here.
    """

    id: str
    mode: StationMode
    max_qty: Decimal = Decimal(10000)  # the largest QTY: multiplier accepted
    default_reason: str = "unspecified"  # the scrap reason when no RSN: was scanned
    # How far back VOID reaches. Written as an integer so that check-config prints 600.
    void_window_s: float = 600
    scrap_reasons: tuple[str, ...] | None = None  # the allow-list for RSN:; None accepts any
    # The allow-list for RSN: at an issue station; None accepts any. Unlike scrap, an
    # issue has no default reason: the reason is the only record of what the stock went to.
    issue_reasons: tuple[str, ...] | None = None


class CardState(StrEnum):
    FULL = "full"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Card:
    """A kanban card: one container of a part, and whether it is full or waiting for a refill.

    Its id is a code of its own, scanned like a part; no part or alias has it.
    """

    card: str
    part: str
    container_qty: Decimal
    location: str = ""
    state: CardState = CardState.FULL
    emptied_at: str | None = None  # RFC 3339 UTC, while empty


@dataclass(frozen=True, slots=True)
class Reorder:
    id: int
    part: str
    ordered: Decimal
    received: Decimal
    open: bool
    created_at: str
    close_reason: str | None = None

    @property
    def outstanding(self) -> Decimal:
        remaining = sub(self.ordered, self.received)
        return remaining if remaining > ZERO else ZERO
