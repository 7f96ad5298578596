"""Stock policy: when low-stock fires, and how much to reorder.

These rules run once per part per transaction, on the net change of on-hand.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from edge.domain.model import ReorderPolicy
from edge.domain.quantity import CONTEXT, ZERO, add, ceil_multiple, mul, sub


class LowStockVerdict(NamedTuple):  # a named tuple, as Balance is: one per component
    fire: bool
    negative: bool
    armed: bool  # the armed flag to store after this transaction


def low_stock(
    before: Decimal, after: Decimal, *, armed: bool, reorder_point: Decimal | None
) -> LowStockVerdict:
    """Edge-triggered low-stock with a stored arming flag.

    Fires when armed and on-hand is at or below the reorder point, then
    disarms until on-hand rises above the point again. A fall from zero or
    more to below zero fires regardless of arming and of whether the item has
    a reorder point: negative stock means the records are wrong. Both cases
    together make one event.
    """
    negative = before >= ZERO > after
    fire_point = False
    if reorder_point is not None:
        if armed and after <= reorder_point:
            fire_point = True
            armed = False
        elif after > reorder_point:
            armed = True
    return LowStockVerdict(fire=fire_point or negative, negative=negative, armed=armed)


def reorder_quantity(policy: ReorderPolicy, position: Decimal) -> Decimal | None:
    """The quantity to suggest when ``position`` is at or below the reorder point.

    None when no reorder is due or the policy gives no quantity (a reorder
    point alone means low-stock only).
    """
    point = policy.reorder_point
    if point is None or position > point:
        return None
    if policy.max_qty is not None:
        quantity = sub(policy.max_qty, position)
    elif policy.reorder_qty is not None:
        # Smallest whole number of lots that lifts position strictly above the point.
        # (point - position) >= 0 here, so integer division is the floor.
        lots = add(CONTEXT.divide_int(sub(point, position), policy.reorder_qty), Decimal(1))
        quantity = mul(lots, policy.reorder_qty)
    else:
        return None
    if policy.order_multiple is not None:
        quantity = ceil_multiple(quantity, policy.order_multiple)
    return quantity
