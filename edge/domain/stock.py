"""A part's stock position as people read it: what is still on order, its state, what explains it.

``edge stock`` and ``edge reorders`` show these; when low-stock fires and how
much to reorder are reorder.py's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from edge.domain.model import Card, CardState, Reorder
from edge.domain.quantity import ZERO, add, total
from edge.domain.usage import average_daily, days_of_cover

if TYPE_CHECKING:
    from edge.domain.ports import Balance  # ports imports this module

StockState = Literal["negative", "no-reorder-point", "low", "ok"]


def still_on_order(reorder: Reorder) -> Decimal:
    """What the reorder will still bring in: ordered less received while open, never below zero.

    A closed reorder brings nothing more, whatever was received against it.
    """
    return reorder.outstanding if reorder.open else ZERO


def on_order(reorders: Sequence[Reorder]) -> Decimal:
    """A part's quantity on order: what its reorders will still bring in, together."""
    # Most parts have no open reorder; the scan path asks for each component.
    return total(still_on_order(reorder) for reorder in reorders) if reorders else ZERO


def stock_state(on_hand: Decimal, reorder_point: Decimal | None) -> StockState:
    """``negative`` below zero, whether or not the part has a reorder point.

    Otherwise ``no-reorder-point`` when the part has none, ``low`` at or below
    it, ``ok`` above it.
    """
    if on_hand < ZERO:
        return "negative"
    if reorder_point is None:
        return "no-reorder-point"
    return "low" if on_hand <= reorder_point else "ok"


def explained(
    balance: Balance, on_order: Decimal, cards: Iterable[Card] | None, today: date
) -> dict[str, Any]:
    """What explains a part's on-hand, under the keys of ``edge stock --json``.

    The retained stock message uses the same keys.

    * ``position``: on hand and on order together, what replenishment looks at;
    * ``last_counted_at``, ``last_counted``: the last count (None before the first)
      and ``consumed_since_count``: backflush, scrap and issue since then;
    * ``average_daily_use`` over the 14 UTC days ending ``today`` and
      ``days_of_cover`` at that rate (None when nothing was used);
    * ``cards``: for a kanban part (``cards`` not None) the ids of its full and
      empty cards, ``{"full": [...], "empty": [...]}``; None for a reorder part.

    A plain dict, not a dataclass, for the same reason as the stock message's.
    """
    last = balance.counted
    average = average_daily(balance.daily, today)
    return {
        "position": add(balance.on_hand, on_order),
        "last_counted_at": None if last is None else last.at,
        "last_counted": None if last is None else last.counted,
        "consumed_since_count": balance.consumed_since_count,
        "average_daily_use": average,
        "days_of_cover": days_of_cover(balance.on_hand, average),
        "cards": None if cards is None else cards_by_state(cards),
    }


def cards_by_state(cards: Iterable[Card]) -> dict[str, list[str]]:
    """The ids of a part's full and of its empty cards, each sorted."""
    by_state: dict[str, list[str]] = {CardState.FULL.value: [], CardState.EMPTY.value: []}
    for card in sorted(cards, key=lambda card: card.card):
        by_state[card.state.value].append(card.card)
    return by_state
