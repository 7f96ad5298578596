"""What a writer keeps between its transactions, and when it must read again.

The daemon's writer keeps balances, quantities on order, station state, the
next ids and the event seq from one batch to the next (edge/store/kept.py).
Here a second service on its own engine writes the same file between the
first one's transactions, as ``edge receive`` or ``edge scan`` would from
another process: the first must see every such change at its next
transaction, and never hand out an id or a seq the other used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import pytest

from edge.domain.quantity import ZERO
from edge.store.database import create_database_engine
from tests.integration.test_inventory import (
    BOM,
    FG_GTIN,
    ITEMS,
    ONE_FG,
    OPENING,
    accepted,
    issued,
    times,
)
from tests.shop_floor import SHIP, FailingLedgerService, ShopFloor, SteppingClock, make_service

D = Decimal


@pytest.fixture(params=["pooled", "held"])
def plant(floor: ShopFloor, request: pytest.FixtureRequest) -> Iterator[ShopFloor]:
    """The writer, on pooled connections or holding one as the daemon's does.

    On a held connection SQLite's data_version tells the writer whether
    another connection committed; on pooled ones the markers query does.
    """
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    with ExitStack() as held:
        if request.param == "held":
            held.enter_context(floor.service.holding_a_connection())
        accepted(floor.scan(SHIP, "FG-100"))  # the writer now keeps what this scan read
        yield floor


@pytest.fixture
def other(plant: ShopFloor, db_path: Path, clock: SteppingClock) -> Iterator[ShopFloor]:
    """Another writer of the same file: its own engine, connections and kept state."""
    engine = create_database_engine(db_path)
    yield ShopFloor(make_service(engine), clock, plant.workdir)
    engine.dispose()


def ledger_sums(floor: ShopFloor) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for part, quantity in floor.ledger():
        sums[part] += quantity
    return dict(sums)


def assert_consistent(floor: ShopFloor) -> None:
    """Balances equal the ledger; scan ids, event seqs and event ids each unique and gapless."""
    assert floor.balances() == ledger_sums(floor)
    scan_ids = [row.id for row in floor.scans()]
    assert scan_ids == list(range(1, len(scan_ids) + 1))
    events = floor.events()
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert len({event["event_id"] for event in events}) == len(events)


def test_a_receipt_by_another_process_is_in_the_writers_next_balance(
    plant: ShopFloor, other: ShopFloor
) -> None:
    other.receive("R-HOUSING", "10")  # 49 + 10
    accepted(plant.scan(SHIP, "FG-100"))
    assert plant.on_hand("R-HOUSING") == D(58)
    [*_, event] = [e for e in plant.events() if e["type"] == "backflush"]
    assert event["seq"] == plant.last_seq()
    assert_consistent(plant)


def test_scans_in_between_take_ids_and_seqs_the_writer_does_not_reuse(
    plant: ShopFloor, other: ShopFloor
) -> None:
    outcomes = [accepted(floor.scan(SHIP, "FG-100")) for floor in (other, plant, other, plant)]
    scan_ids = [outcome.scan_id for outcome in outcomes]
    assert scan_ids == sorted(set(scan_ids))
    for outcome in outcomes:
        assert issued(plant, outcome) == ONE_FG
    assert_consistent(plant)


def test_a_qty_scanned_elsewhere_applies_to_the_writers_next_part_scan(
    plant: ShopFloor, other: ShopFloor
) -> None:
    accepted(other.scan(SHIP, "QTY:3"))
    shipped = accepted(plant.scan(SHIP, "FG-100"))
    assert issued(plant, shipped) == times(ONE_FG, "3")
    # ... and is used up there: the other process sees the station state the writer left.
    assert issued(plant, accepted(other.scan(SHIP, "FG-100"))) == ONE_FG


def test_a_reorder_opened_elsewhere_counts_as_on_order_for_the_writer(
    plant: ShopFloor, other: ShopFloor
) -> None:
    other.count("R-HOUSING", "11")
    accepted(other.scan(SHIP, "FG-100"))  # 10, at the reorder point: a reorder of 25
    [reorder] = plant.reorders()
    accepted(plant.scan(SHIP, "FG-100"))  # 9 + 25 on order: above the point, no new reorder
    assert [row.id for row in plant.reorders()] == [reorder.id]
    [*_, stock] = [e for e in plant.events() if e["type"] == "reorder"]
    assert stock["on_order"] == D(0)


def test_a_failed_batch_leaves_the_kept_state_as_the_last_commit_left_it(
    plant: ShopFloor, clock: SteppingClock
) -> None:
    """The batch's scans are applied before the failure, then rolled back and taken alone."""
    failing = ShopFloor(FailingLedgerService(plant.engine, fail_on_call=2), clock, plant.workdir)
    accepted(failing.scan(SHIP, "R-HOUSING"))  # kept: R-HOUSING 48
    first, broken, last = failing.scan_batch([
        (SHIP, "R-HOUSING"),
        (SHIP, "FG-100"),  # fails on its second ledger row, after R-HOUSING was kept at 47
        (SHIP, "R-HOUSING"),
    ])  # fmt: skip
    assert (first.status, broken.reason, last.status) == ("accepted", "internal-error", "accepted")
    accepted(failing.scan(SHIP, "R-HOUSING"))
    assert plant.on_hand("R-HOUSING") == D(50 - 1 - 4)
    assert_consistent(plant)


def test_a_batch_knows_which_of_its_serials_shipped_before_and_within_it(
    plant: ShopFloor, other: ShopFloor
) -> None:
    """The batch asks once for all its serials; what it ships itself, and a VOID, count too."""
    label = f"(01){FG_GTIN}(21)SN-1"
    accepted(other.scan(SHIP, label))  # shipped by another process
    outcomes = plant.scan_batch([
        (SHIP, label),  # shipped before: refused
        (SHIP, f"(01){FG_GTIN}(21)SN-2"),
        (SHIP, f"(01){FG_GTIN}(21)SN-2"),  # shipped earlier in this batch: refused
        (SHIP, "VOID"),  # frees SN-2
        (SHIP, f"(01){FG_GTIN}(21)SN-2"),  # ships again
    ])  # fmt: skip
    assert [(o.status, o.reason) for o in outcomes] == [
        ("rejected", "serial-already-shipped"),
        ("accepted", None),
        ("rejected", "serial-already-shipped"),
        ("accepted", None),
        ("accepted", None),
    ]
    assert_consistent(plant)


def test_a_catalog_change_on_the_writers_own_connection_is_in_its_next_scan(
    plant: ShopFloor,
) -> None:
    """An import in the daemon's own process (a command) goes through the writer's
    connection, which SQLite's data_version does not count: the writer still reads again."""
    plant.load("part,description,reorder_point,reorder_qty\nR-HOUSING,Housing,200,25\n")
    accepted(plant.scan(SHIP, "FG-100"))
    assert any(e["type"] == "reorder" and e["part"] == "R-HOUSING" for e in plant.events())
    assert_consistent(plant)
