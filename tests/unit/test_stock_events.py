"""Receipts, cancelled reorders, counts and openings on the in-memory store, and
the order and numbering of the events every transaction writes (SPEC §5, §6).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from edge.domain.events import EVENT_SCHEMA
from edge.domain.inventory import Inventory, Rejection
from edge.domain.ports import Moment
from edge.domain.timestamps import rfc3339
from tests.shop_floor import SteppingClock
from tests.unit.fake_store import TEST_IDENTITY, InMemoryStore
from tests.unit.pump_catalog import BOM, ITEMS, OPENING

D = Decimal


def fields(event: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(event.get(name) for name in names)


@pytest.fixture
def two_reorders(inventory: Inventory, store: InMemoryStore, clock: SteppingClock) -> list[int]:
    """R-HOUSING 50 -> 9 (a reorder of 25) -> -16 (position 9: another 25)."""
    inventory.consume("backflush", "R-HOUSING", D(41), clock.moment())
    inventory.consume("backflush", "R-HOUSING", D(25), clock.moment())
    return [row.id for row in store.reorders()]


# --- receipts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "against", "reorders", "events", "on_hand", "on_order"),
    [
        pytest.param(
            "10", 1, [("0", None), ("10", None)], [("receipt", 1)], "-6", "40",
            id="part-of-one-reorder",
        ),
        pytest.param(
            "25", 1, [("0", None), ("25", "received")], [("receipt", 1), ("reorder-closed", 1)],
            "9", "25", id="all-of-one-reorder-closes-it",
        ),
        pytest.param(
            "30", 0, [("30", "received"), ("0", None)], [("receipt", 0), ("reorder-closed", 0)],
            "14", "25", id="more-than-ordered-against-one-closes-only-it",
        ),
        pytest.param(
            "5", None, [("5", None), ("0", None)], [("receipt", 0)], "-11", "45",
            id="oldest-first",
        ),
        pytest.param(
            "25", None, [("25", "received"), ("0", None)], [("receipt", 0), ("reorder-closed", 0)],
            "9", "25", id="oldest-filled-and-closed",
        ),
        pytest.param(
            "30", None, [("25", "received"), ("5", None)], [("receipt", None),
            ("reorder-closed", 0)], "14", "20", id="spills-into-the-next",
        ),
        pytest.param(
            "100", None, [("25", "received"), ("25", "received")],
            [("receipt", None), ("reorder-closed", 0), ("reorder-closed", 1)], "84", "0",
            id="beyond-what-is-on-order-is-just-stock",
        ),
    ],
)  # fmt: skip
def test_a_receipt_fills_reorders_and_closes_them(
    inventory: Inventory,
    store: InMemoryStore,
    clock: SteppingClock,
    two_reorders: list[int],
    *,
    quantity: str,
    against: int | None,
    reorders: list[tuple[str, str | None]],
    events: list[tuple[str, int | None]],
    on_hand: str,
    on_order: str,
) -> None:
    def reorder_id(index: int | None) -> int | None:
        return None if index is None else two_reorders[index]

    mark = store.last_seq()
    inventory.receive("R-HOUSING", D(quantity), clock.moment(), reorder_id=reorder_id(against))
    assert [(row.received, row.open, row.close_reason) for row in store.reorders()] == [
        (D(received), reason is None, reason) for received, reason in reorders
    ]
    written = store.events(mark)
    assert [fields(event, "type", "reorder_id") for event in written] == [
        (kind, reorder_id(index)) for kind, index in events
    ]
    receipt, *closed = written
    assert fields(receipt, "part", "quantity", "on_hand", "on_order") == (
        "R-HOUSING", D(quantity), D(on_hand), D(on_order),
    )  # fmt: skip
    assert all(fields(e, "part", "reason") == ("R-HOUSING", "received") for e in closed)
    assert store.balance("R-HOUSING").on_hand == D(on_hand)
    assert store.snapshots()["R-HOUSING"]["on_order"] == D(on_order)


@pytest.mark.parametrize(
    ("part", "quantity", "against", "reason"),
    [
        ("R-HOUSING", "0", None, "bad-quantity"),
        ("R-HOUSING", "-5", None, "bad-quantity"),
        ("NO-SUCH-PART", "5", None, "unknown-part"),
        ("KIT-1", "5", None, "phantom-part"),
        ("R-SCREW", "5", 1, "unknown-reorder"),  # that reorder is R-HOUSING's
        ("R-HOUSING", "5", 999, "unknown-reorder"),
    ],
)
def test_a_receipt_is_checked_and_changes_nothing(
    inventory: Inventory,
    store: InMemoryStore,
    clock: SteppingClock,
    two_reorders: list[int],
    *,
    part: str,
    quantity: str,
    against: int | None,
    reason: str,
) -> None:
    before = (store.balances(), store.reorders(), store.last_seq())
    reorder_id = two_reorders[against] if against in (0, 1) else against
    with pytest.raises(Rejection) as excinfo:
        inventory.receive(part, D(quantity), clock.moment(), reorder_id=reorder_id)
    assert excinfo.value.reason == reason
    assert (store.balances(), store.reorders(), store.last_seq()) == before


def test_cancel_closes_one_reorder(
    inventory: Inventory, store: InMemoryStore, clock: SteppingClock, two_reorders: list[int]
) -> None:
    first, second = two_reorders
    mark = store.last_seq()
    event_id = inventory.cancel_reorder(first, clock.moment())
    [closed] = store.events(mark)
    assert fields(closed, "event_id", "type", "reorder_id", "part", "reason") == (
        event_id, "reorder-closed", first, "R-HOUSING", "cancelled",
    )  # fmt: skip
    assert [(r.id, r.open, r.close_reason) for r in store.reorders()] == [
        (first, False, "cancelled"),
        (second, True, None),
    ]
    assert store.snapshots()["R-HOUSING"]["on_order"] == 25
    for operation in (
        lambda at: inventory.cancel_reorder(first, at),
        lambda at: inventory.receive("R-HOUSING", D(5), at, reorder_id=first),
    ):
        with pytest.raises(Rejection) as excinfo:
            operation(clock.moment())
        assert excinfo.value.reason == "reorder-closed"
    with pytest.raises(Rejection) as unknown:
        inventory.cancel_reorder(999, clock.moment())
    assert unknown.value.reason == "unknown-reorder"


# --- counts and openings --------------------------------------------------------------


@pytest.mark.parametrize(
    ("take", "counted", "variance", "pct"),
    [
        # A variance beyond 5 % of the consumption since the last count is a variance event.
        pytest.param("2.5", "95.25", "-2.25", "-90", id="shrinkage"),
        pytest.param("2.5", "100", "2.5", "100", id="more-than-the-books"),
        pytest.param("0", "100", "0", None, id="as-booked"),
        pytest.param("100.55", "0", "0.55", "0.55", id="from-negative-books"),
        pytest.param("100", "0.5", "0.5", "0.5", id="within-tolerance"),
    ],
)
def test_a_count_sets_on_hand_and_records_the_variance(
    inventory: Inventory,
    store: InMemoryStore,
    clock: SteppingClock,
    *,
    take: str,
    counted: str,
    variance: str,
    pct: str | None,
) -> None:
    inventory.consume("backflush", "R-GASKET", D(take), clock.moment())  # from 100
    mark = store.last_seq()
    posted = inventory.count("R-GASKET", D(counted), clock.moment())
    assert store.balance("R-GASKET").on_hand == D(counted)
    assert [(r.part, r.quantity, r.kind) for r in store.ledger(posted.txn_id)] == [
        ("R-GASKET", D(variance), "count")
    ]
    assert sum(row.quantity for row in store.ledger() if row.part == "R-GASKET") == D(counted)
    event, *told = store.events(mark)
    assert fields(event, "type", "part", "counted", "previous_on_hand", "variance") == (
        "count", "R-GASKET", D(counted), 100 - D(take), D(variance),
    )  # fmt: skip
    [(_txn, record)] = store.counts()
    assert (record.book, record.counted, record.used.backflush) == (
        100 - D(take), D(counted), D(take),
    )  # fmt: skip
    over = [fields(e, "type", "variance_pct", "consumed") for e in told if e["type"] == "variance"]
    if pct is None or abs(D(pct)) <= 5:
        assert over == []
    else:
        assert over == [("variance", D(pct), D(take))]


@pytest.mark.parametrize(
    ("part", "counted", "reason"),
    [
        ("R-GASKET", "-1", "bad-quantity"),
        ("KIT-1", "1", "phantom-part"),
        ("NO-SUCH-PART", "1", "unknown-part"),
    ],
)
def test_a_count_is_checked(
    inventory: Inventory, clock: SteppingClock, part: str, counted: str, reason: str
) -> None:
    with pytest.raises(Rejection) as excinfo:
        inventory.count(part, D(counted), clock.moment())
    assert excinfo.value.reason == reason


def test_an_opening_balance_is_posted_once(store: InMemoryStore, clock: SteppingClock) -> None:
    [opening] = [e for e in store.events() if e["part"] == "R-GASKET"]
    assert fields(opening, "type", "counted", "previous_on_hand", "variance", "opening") == (
        "count", 100, 0, 100, True,
    )  # fmt: skip
    assert [(r.quantity, r.kind) for r in store.ledger() if r.part == "R-GASKET"] == [
        (D(100), "opening")
    ]
    assert store.has_ledger_rows("R-GASKET")
    assert not store.has_ledger_rows("R-WIRE")
    with pytest.raises(Rejection) as excinfo:
        store.post_opening({"R-GASKET": D(5)}, clock.moment())
    assert excinfo.value.reason == "has-history"
    store.post_opening({"R-WIRE": D("12.5")}, clock.moment())
    assert store.balance("R-WIRE").on_hand == D("12.5")


# --- events -------------------------------------------------------------------------


def _ship_41_pumps(inventory: Inventory, at: Moment) -> None:
    inventory.consume("backflush", "FG-100", D(41), at)


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        pytest.param(
            _ship_41_pumps,
            # R-HOUSING 50 -> 9 (point 10: low-stock, reorder); SUB-200 20 -> -21
            # (negative); R-SCREW 1000 -> 836 and R-GASKET stay quiet.
            [
                ("backflush", "FG-100"),
                ("low-stock", "R-HOUSING"),
                ("low-stock", "SUB-200"),
                ("reorder", "R-HOUSING"),
            ],
            id="backflush-then-low-stock-by-part-then-reorder",
        ),
        pytest.param(
            lambda inventory, at: inventory.consume("scrap", "R-SCREW", D(901), at, reason="X"),
            [("scrap", "R-SCREW"), ("low-stock", "R-SCREW"), ("reorder", "R-SCREW")],
            id="scrap",
        ),
        pytest.param(
            # Counted 24 short with nothing used since: beyond any tolerance, so a variance.
            lambda inventory, at: inventory.count("R-HOUSING", D(10), at),
            [
                ("count", "R-HOUSING"),
                ("variance", "R-HOUSING"),
                ("low-stock", "R-HOUSING"),
                ("reorder", "R-HOUSING"),
            ],
            id="count",
        ),
        pytest.param(
            lambda inventory, at: inventory.build("SUB-200", D(300), at),
            [("build", "SUB-200"), ("low-stock", "R-WIRE")],  # 0 -> -93.3
            id="build",
        ),
    ],
)
def test_a_transaction_writes_its_own_event_then_low_stock_then_reorders(
    inventory: Inventory,
    store: InMemoryStore,
    clock: SteppingClock,
    operation: Callable[[Inventory, Moment], object],
    expected: list[tuple[str, str]],
) -> None:
    mark = store.last_seq()
    operation(inventory, clock.moment())
    events = store.events(mark)
    assert [fields(event, "type", "part") for event in events] == expected
    assert [event["seq"] for event in events] == list(range(mark + 1, mark + 1 + len(expected)))


def test_every_event_is_numbered_without_gaps_and_carries_the_common_fields(
    inventory: Inventory, store: InMemoryStore, clock: SteppingClock
) -> None:
    _ship_41_pumps(inventory, clock.moment())
    clock.advance(2.5)
    refusals: list[Callable[[Moment], object]] = [
        lambda at: inventory.build("KIT-1", D(1), at),
        lambda at: inventory.receive("R-HOUSING", D(0), at),
        lambda at: inventory.count("KIT-1", D(1), at),
    ]
    for refused in refusals:
        with pytest.raises(Rejection):
            refused(clock.moment())
    assert store.raise_boot() == 1  # the daemon started (again)
    inventory.receive("R-HOUSING", D(25), clock.moment())
    inventory.reject_scan(99, "NOPE", "unknown-part", clock.moment())
    events = store.events()
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert store.last_seq() == len(events) == 4 + 4 + 2 + 1  # openings, shipment, receipt, scan
    assert len({event["event_id"] for event in events}) == len(events)
    assert [event["boot"] for event in events] == [0] * 8 + [1] * 3
    for event in events:
        assert fields(event, "schema", "site", "node") == (EVENT_SCHEMA, "plant-1", "pack-edge-01")
    assert events[-1]["occurred_at"] == rfc3339(clock.now()) == "2026-03-02T06:00:02.500Z"
    assert fields(events[-1], "type", "scan_id", "code", "reason") == (
        "scan-rejected", 99, "NOPE", "unknown-part",
    )  # fmt: skip


class FailingSnapshots(InMemoryStore):
    """The in-memory store whose stock snapshots fail while ``failing`` is set.

    A transaction writes its snapshots last, after its ledger rows, balances
    and events (with their seq numbers), so a failure there has all of those
    to take back.
    """

    failing = False

    def restate_stock(self, part: str, at: datetime) -> None:
        if self.failing:
            raise RuntimeError("the snapshot write failed")
        super().restate_stock(part, at)


def test_a_failed_transaction_takes_everything_back_its_seq_included(
    clock: SteppingClock,
) -> None:
    store = FailingSnapshots()
    store.load_catalog(ITEMS, BOM)
    store.post_opening(OPENING, clock.moment())
    inventory = Inventory(store, TEST_IDENTITY)

    def everything() -> tuple[object, ...]:
        return (
            store.balances(),
            store.ledger(),
            store.transactions(),
            store.reorders(),
            store.events(),
            store.snapshots(),
            store.structures(),
            store.last_seq(),
        )

    before = everything()
    store.failing = True
    with pytest.raises(RuntimeError), store.savepoint():
        _ship_41_pumps(inventory, clock.moment())
    assert everything() == before
    store.failing = False
    posted = inventory.consume("backflush", "R-GASKET", D(1), clock.moment())
    assert posted.txn_id == len(OPENING) + 1  # the rolled-back id is used again, as in SQLite
    assert [event["seq"] for event in store.events()] == list(range(1, len(OPENING) + 2))
