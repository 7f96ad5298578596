"""Opening balances of many parts at once: what an opening-stock import posts.

An opening balance is a stock change like any other (ledger kind
``opening``, the part's balance, its retained stock snapshot, and low-stock
and reorder events when it opens at or below its reorder point), but it is
not told in one event per part: a 50,000-part opening would queue 50,000
``count`` events ahead of the line's scans. The balances go out in
``opening-balances`` events of at most :data:`OPENING_PARTS_PER_EVENT`
parts each.

Low-stock and reorder events stay one per part: each asks someone to act
on that part (a reorder has its own id that a receipt later closes), and a
healthy opening has few of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TypeVar

from edge.domain import events
from edge.domain.model import Item
from edge.domain.ports import Balance, Moment
from edge.domain.quantity import ZERO, add
from edge.domain.reorder import low_stock, reorder_quantity

T = TypeVar("T")

# 200 parts of at most 64 characters (256 bytes of UTF-8), an exact quantity
# and a short uom keep a payload near 20 kB typically and under 80 kB at
# worst: well under 128 kB, a common broker limit, and under the relay's split.
OPENING_PARTS_PER_EVENT: Final = 200


@dataclass(frozen=True, slots=True)
class Opening:
    """One part's opening balance, with what the rules need to know of the part.

    ``on_order``: what its open reorders bring in (zero for a part without history).
    """

    item: Item
    on_hand: Decimal
    on_order: Decimal = ZERO

    @property
    def part(self) -> str:
        return self.item.part


@dataclass(frozen=True, slots=True)
class PlannedOpening:
    """What the stock rules make of one opening, decided before its transaction.

    A part without history has nothing that could change the outcome while
    the import waits for the write lock (the caller checks under the lock
    that it still has no history), so the rules run ahead, outside it.
    """

    opening: Opening
    balance: Balance  # after the opening, with the armed flag the low-stock rule leaves
    low: events.LowStockEvent | None
    reorder: Decimal | None  # the suggested order quantity, when one is due


def plan_openings(openings: Sequence[Opening], at: Moment) -> list[PlannedOpening]:
    """The stock rules (SPEC §5) on each opening, as on any stock change from zero."""
    planned: list[PlannedOpening] = []
    for opening in openings:
        part, on_hand, policy = opening.part, opening.on_hand, opening.item.policy
        point = policy.reorder_point
        verdict = low_stock(ZERO, on_hand, armed=True, reorder_point=point)
        low = (
            events.LowStockEvent(part, on_hand, point, verdict.negative, uom=opening.item.uom)
            if verdict.fire
            else None
        )
        kanban = opening.item.kanban  # refilled by its cards: no reorder
        suggested = None if kanban else reorder_quantity(policy, add(on_hand, opening.on_order))
        balance = Balance(on_hand, verdict.armed)
        planned.append(PlannedOpening(opening, balance, low, suggested))
    return planned


def opening_batches(openings: Sequence[T]) -> list[Sequence[T]]:
    """The openings in the order given, cut into the batches of one event each."""
    size = OPENING_PARTS_PER_EVENT
    return [openings[start : start + size] for start in range(0, len(openings), size)]
