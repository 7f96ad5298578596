"""Stock policy: reorder quantities and edge-triggered low-stock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.domain.model import ReorderPolicy
from edge.domain.reorder import LowStockVerdict, low_stock, reorder_quantity


def policy(
    point: str | None = None,
    qty: str | None = None,
    max_qty: str | None = None,
    multiple: str | None = None,
) -> ReorderPolicy:
    def dec(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    return ReorderPolicy(
        reorder_point=dec(point),
        reorder_qty=dec(qty),
        max_qty=dec(max_qty),
        order_multiple=dec(multiple),
    )


@pytest.mark.parametrize(
    ("rule", "position", "expected"),
    [
        # reorder_qty: one lot when one lot clears the point
        (policy("10", qty="25"), "10", "25"),
        (policy("10", qty="25"), "9", "25"),
        (policy("10", qty="25"), "0", "25"),
        # ... repeated until position is strictly above the point
        (policy("10", qty="25"), "-15", "50"),  # one lot would land exactly on 10
        (policy("10", qty="25"), "-16", "50"),
        (policy("10", qty="25"), "-40", "75"),
        (policy("10", qty="5"), "0", "15"),  # 5 and 10 do not clear 10; 15 does
        (policy("0.5", qty="0.2"), "0.1", "0.6"),
        # above the point: nothing to order
        (policy("10", qty="25"), "10.000001", None),
        (policy("10", qty="25"), "11", None),
        # max_qty: order up to max (max wins over reorder_qty)
        (policy("10", max_qty="50"), "10", "40"),
        (policy("10", max_qty="50"), "3.5", "46.5"),
        (policy("10", max_qty="50"), "-5", "55"),
        (policy("10", qty="25", max_qty="50"), "10", "40"),
        (policy("10", max_qty="50"), "11", None),
        # order_multiple rounds up the quantity
        (policy("10", max_qty="50", multiple="12"), "10", "48"),
        (policy("10", max_qty="50", multiple="12"), "2", "48"),
        (policy("10", max_qty="50", multiple="12"), "1", "60"),
        (policy("10", max_qty="50", multiple="10"), "10", "40"),  # already a multiple
        (policy("10", qty="25", multiple="10"), "10", "30"),
        (policy("10", qty="25", multiple="10"), "-15", "50"),
        (policy("0", qty="0.3", multiple="0.25"), "-0.1", "0.5"),
        # a reorder point alone gives low-stock only
        (policy("10"), "5", None),
        (policy("10", multiple="5"), "5", None),
        # no reorder point: never reordered
        (policy(), "-100", None),
    ],
)
def test_reorder_quantity(rule: ReorderPolicy, position: str, expected: str | None) -> None:
    quantity = reorder_quantity(rule, Decimal(position))
    assert quantity == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(
    "rule",
    [
        policy("10", qty="25"),
        policy("10", qty="3"),
        policy("10", qty="0.7", multiple="0.5"),
        policy("10", max_qty="11"),
        policy("10", max_qty="50", multiple="12"),
        policy("0", qty="1"),
    ],
)
@pytest.mark.parametrize("below", ["0", "0.01", "10", "10.5", "47", "1010"])
def test_a_suggested_order_lifts_position_strictly_above_the_point(
    rule: ReorderPolicy, below: str
) -> None:
    assert rule.reorder_point is not None
    position = rule.reorder_point - Decimal(below)
    quantity = reorder_quantity(rule, position)
    assert quantity is not None
    assert quantity > 0
    assert position + quantity > rule.reorder_point
    if rule.order_multiple is not None:
        assert quantity % rule.order_multiple == 0


# (on_hand before, on_hand after, armed, reorder point) -> (fire, negative, armed after)
LOW_STOCK_CASES = [
    # falling to or below the point fires once and disarms
    ("12", "10", True, "10", (True, False, False)),
    ("12", "3", True, "10", (True, False, False)),
    ("12", "11", True, "10", (False, False, True)),
    # disarmed: further falls stay silent
    ("10", "8", False, "10", (False, False, False)),
    ("8", "10", False, "10", (False, False, False)),  # back to the point is not above it
    # rising above the point re-arms, silently
    ("8", "10.000001", False, "10", (False, False, True)),
    ("-5", "20", False, "10", (False, False, True)),
    # an opening balance already at or below the point fires once (armed from the start)
    ("0", "4", True, "10", (True, False, False)),
    # a fall below zero fires even when disarmed, flagged negative
    ("5", "-1", False, "10", (True, True, False)),
    ("0", "-0.000001", False, "10", (True, True, False)),
    # crossing the point and zero in one transaction: one verdict
    ("12", "-3", True, "10", (True, True, False)),
    # ... and for items without a reorder point
    ("3", "-1", True, None, (True, True, True)),
    ("0", "-2", True, None, (True, True, True)),
    # already negative, or down to exactly zero: not a new fall below zero
    ("-1", "-2", True, None, (False, False, True)),
    ("-1", "-2", False, "10", (False, False, False)),
    ("3", "0", True, None, (False, False, True)),
    ("3", "1", True, None, (False, False, True)),
    # a negative reorder point is still a point
    ("0", "-2", True, "-1", (True, True, False)),
]


@pytest.mark.parametrize(("before", "after", "armed", "point", "verdict"), LOW_STOCK_CASES)
def test_low_stock(
    before: str, after: str, armed: bool, point: str | None, verdict: tuple[bool, bool, bool]
) -> None:
    fire, negative, armed_after = verdict
    result = low_stock(
        Decimal(before),
        Decimal(after),
        armed=armed,
        reorder_point=None if point is None else Decimal(point),
    )
    assert result == LowStockVerdict(fire=fire, negative=negative, armed=armed_after)


def test_low_stock_fires_again_only_after_re_arming() -> None:
    point = Decimal(10)
    previous, armed = Decimal(30), True
    fired_at = []
    for text in ["20", "10", "5", "8", "10", "11", "9", "4", "15", "10"]:
        on_hand = Decimal(text)
        verdict = low_stock(previous, on_hand, armed=armed, reorder_point=point)
        if verdict.fire:
            fired_at.append(text)
        previous, armed = on_hand, verdict.armed
    assert fired_at == ["10", "9", "10"]
