"""A part's stock position as people read it: what is still on order, and its state.

``edge stock`` and ``edge reorders`` show these; when low-stock fires and how
much to reorder are reorder.py's rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from edge.domain.model import Reorder
from edge.domain.quantity import ZERO, total

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
