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
from typing import Final

from edge.domain.model import Item
from edge.domain.quantity import ZERO

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


def opening_batches(openings: Sequence[Opening]) -> list[Sequence[Opening]]:
    """The openings in the order given, cut into the batches of one event each."""
    size = OPENING_PARTS_PER_EVENT
    return [openings[start : start + size] for start in range(0, len(openings), size)]
