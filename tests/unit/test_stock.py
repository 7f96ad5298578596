"""A part's stock position as ``edge stock`` shows it: quantity on order and state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.domain.model import Reorder
from edge.domain.stock import on_order, still_on_order, stock_state


def reorder(ordered: str, received: str, *, is_open: bool = True) -> Reorder:
    return Reorder(
        id=1,
        part="BOLT-M6",
        ordered=Decimal(ordered),
        received=Decimal(received),
        open=is_open,
        created_at="2026-03-02T06:00:00Z",
        close_reason=None if is_open else "received",
    )


@pytest.mark.parametrize(
    ("on_hand", "reorder_point", "expected"),
    [
        ("-1", None, "negative"),
        ("-0.001", "10", "negative"),  # below zero wins over the reorder point
        ("-5", "-10", "negative"),
        ("0", None, "no-reorder-point"),
        ("1000", None, "no-reorder-point"),
        ("10", "10", "low"),  # at the point is low
        ("9.999", "10", "low"),
        ("0", "0", "low"),
        ("0", "10", "low"),
        ("10.001", "10", "ok"),
        ("1", "0", "ok"),
    ],
)
def test_stock_state(on_hand: str, reorder_point: str | None, expected: str) -> None:
    point = None if reorder_point is None else Decimal(reorder_point)
    assert stock_state(Decimal(on_hand), point) == expected


@pytest.mark.parametrize(
    ("ordered", "received", "is_open", "expected"),
    [
        ("100", "0", True, "100"),
        ("100", "40", True, "60"),
        ("100", "100", True, "0"),
        ("100", "120", True, "0"),  # over-received: nothing more to come, never negative
        ("2.5", "0.75", True, "1.75"),
        ("100", "40", False, "0"),  # closed (cancelled or received): nothing more to come
    ],
)
def test_still_on_order(ordered: str, received: str, is_open: bool, expected: str) -> None:
    assert still_on_order(reorder(ordered, received, is_open=is_open)) == Decimal(expected)


def test_on_order_adds_up_what_each_reorder_still_brings() -> None:
    reorders = [
        reorder("100", "40"),
        reorder("25", "30"),  # over-received counts as nothing, not as -5
        reorder("0.125", "0"),
        reorder("50", "0", is_open=False),
    ]
    assert on_order(reorders) == Decimal("60.125")


def test_nothing_on_order_without_reorders() -> None:
    assert on_order([]) == 0
