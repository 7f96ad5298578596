"""Counts and what they reveal, on the in-memory store (SPEC §13): each count keeps the book
it met and the part's use since its previous count, by kind; a variance beyond tolerance
is told; the balance keeps the use marks, the daily use and the last count that explain
on-hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.domain.inventory import Inventory
from edge.domain.model import BomLine, InventoryPolicy, Item, Station, StationMode
from edge.domain.usage import (
    Usage,
    add_daily,
    average_daily,
    days_of_cover,
    format_daily,
    format_daily_after,
    implied_per_parent,
    over_tolerance,
    variance_pct,
)
from tests.shop_floor import SteppingClock
from tests.unit.fake_store import TEST_IDENTITY, InMemoryStore
from tests.unit.station_scans import StationScans, accepted

D = Decimal
PACK, SCRAP, LAB = "PACK-1", "SCRAP-1", "LAB-1"
STATIONS = (
    Station(PACK, StationMode.SHIP),
    Station(SCRAP, StationMode.SCRAP),
    Station(LAB, StationMode.ISSUE),
)
# FG-A's BOM says 2 gaskets; the gasket's own tolerance is left to the policy's.
ITEMS = (
    Item("FG-A", "Pump"),
    Item("GASKET", "Gasket", stocked=True),
    Item("BOLT", "Bolt", stocked=True, count_tolerance_pct=D("0.5")),
)
BOM = (BomLine("FG-A", "GASKET", D(2)), BomLine("FG-A", "BOLT", D(8)))


@pytest.fixture
def floor(clock: SteppingClock) -> StationScans:
    store = InMemoryStore()
    store.load_catalog(ITEMS, BOM)
    store.post_opening({"GASKET": D(1000), "BOLT": D(5000)}, clock.moment())
    return StationScans(store, clock, STATIONS, InventoryPolicy(count_tolerance_pct=D(5)))


def inventory(floor: StationScans) -> Inventory:
    return Inventory(floor.store, TEST_IDENTITY, floor.policy)


def ship(floor: StationScans, quantity: int, part: str = "FG-A") -> None:
    accepted(floor.scan(PACK, f"QTY:{quantity}"))
    accepted(floor.scan(PACK, part))


def count(floor: StationScans, part: str, short: Decimal) -> None:
    """Count the part ``short`` below its book."""
    book = floor.store.balance(part).on_hand
    inventory(floor).count(part, book - short, floor.clock.moment())


def test_the_example_three_rounds_each_20_short_on_200_gaskets(floor: StationScans) -> None:
    for _round in range(3):
        ship(floor, 100)
        floor.clock.advance(3600)
        count(floor, "GASKET", D(20))
    records = [record for _txn, record in floor.store.counts()]
    assert [(r.book, r.counted, r.variance) for r in records] == [
        (D(800), D(780), D(-20)), (D(580), D(560), D(-20)), (D(360), D(340), D(-20)),
    ]  # fmt: skip
    assert {r.used for r in records} == {Usage(backflush=D(200), bom=D(200))}
    assert [r.previous_at for r in records] == [None, records[0].counted_at, records[1].counted_at]
    assert {variance_pct(r.variance, r.used.total) for r in records} == {D(-10)}
    variances = [e for e in floor.store.events() if e["type"] == "variance"]
    assert [(e["variance"], e["variance_pct"], e["tolerance_pct"]) for e in variances] == [
        (-20, -10, 5),
    ] * 3
    assert implied_per_parent(D(2), records) == D("2.2")


def test_use_since_the_previous_count_is_by_kind(floor: StationScans) -> None:
    ship(floor, 10)  # 20 gaskets through the BOM
    accepted(floor.scan(SCRAP, "QTY:3"))
    accepted(floor.scan(SCRAP, "GASKET"))  # the gasket itself: not through a BOM
    accepted(floor.scan(LAB, "RSN:TEST"))
    accepted(floor.scan(LAB, "FG-A"))  # an issued pump explodes: 2 more through the BOM
    accepted(floor.scan(PACK, "QTY:4"))
    accepted(floor.scan(PACK, "FG-A"))
    accepted(floor.scan(PACK, "VOID"))  # takes its 8 back
    count(floor, "GASKET", D(0))
    [(_txn, record)] = floor.store.counts()
    assert record.used == Usage(backflush=D(20), scrap=D(3), issue=D(2), bom=D(22))
    assert record.variance == 0
    assert not [e for e in floor.store.events() if e["type"] == "variance"]
    snapshot = floor.store.snapshots()["GASKET"]
    assert (snapshot["last_counted"], snapshot["consumed_since_count"]) == (975, 0)


def test_a_count_taken_earlier_leaves_later_use_to_the_next_count(floor: StationScans) -> None:
    ship(floor, 50)  # 100 gaskets, before the counter looked
    taken = floor.clock.moment().wall
    floor.clock.advance(600)
    ship(floor, 5)  # 10 more, after: not this count's book, nor its use
    inventory(floor).count("GASKET", D(895), floor.clock.moment(), counted_at=taken)
    [(_txn, record)] = floor.store.counts()
    assert (record.book, record.variance, record.used.total) == (D(900), D(-5), D(100))
    assert floor.store.balance("GASKET").on_hand == D(885)
    assert floor.store.balance("GASKET").consumed_since_count == D(10)
    floor.clock.advance(600)
    count(floor, "GASKET", D(0))
    assert floor.store.counts()[1][1].used.total == D(10)


@pytest.mark.parametrize(
    ("part", "short", "events"),
    [
        pytest.param("GASKET", D(5), 0, id="5-of-100-is-within-the-policys-5"),
        pytest.param("GASKET", D("5.5"), 1, id="5.5-of-100-is-beyond"),
        pytest.param("BOLT", D(2), 0, id="2-of-400-within-the-items-0.5"),
        pytest.param("BOLT", D(3), 1, id="3-of-400-beyond-the-items-0.5"),
    ],
)
def test_the_tolerance_is_the_items_else_the_policys(
    floor: StationScans, part: str, short: Decimal, events: int
) -> None:
    ship(floor, 50)  # 100 gaskets, 400 bolts
    count(floor, part, short)
    assert len([e for e in floor.store.events() if e["type"] == "variance"]) == events
    [(_txn, record)] = floor.store.counts()
    assert record.tolerance_pct == (D("0.5") if part == "BOLT" else D(5))


@pytest.mark.parametrize(
    ("variance", "consumption", "tolerance", "pct", "over"),
    [
        (D(-20), D(200), D(5), D(-10), True),
        (D(5), D(100), D(5), D(5), False),
        (D("5.01"), D(100), D(5), D("5.01"), True),
        (D(1), D(0), D(5), None, True),  # nothing used: any variance is beyond
        (D(0), D(0), D(5), None, False),
        (D(-1), D(3), D(50), D("-33.33"), False),
    ],
)
def test_variance_as_a_share_of_consumption(
    variance: Decimal, consumption: Decimal, tolerance: Decimal, pct: Decimal | None, over: bool
) -> None:
    assert variance_pct(variance, consumption) == pct
    assert over_tolerance(variance, consumption, tolerance) is over


def test_daily_use_keeps_14_days_and_averages_over_14() -> None:
    today = date(2026, 3, 20)
    days: tuple[tuple[str, Decimal], ...] = ()
    for back in (20, 14, 13, 1, 0, 0):
        days = add_daily(days, (today - timedelta(days=back)).isoformat(), D(7))
    # Added on different "todays": the oldest fall out as the window moves.
    assert days == (("2026-03-07", D(7)), ("2026-03-19", D(7)), ("2026-03-20", D(14)))
    assert average_daily(days, today) == D("2")  # 28 / 14
    assert average_daily(days, today + timedelta(days=13)) == D(1)  # only the 14 of 03-20
    assert days_of_cover(D(21), D(2)) == D("10.5")
    assert days_of_cover(D(-3), D(2)) == D(0)
    assert days_of_cover(D(21), D(0)) is None


# A day of use: how many days after the first (the window moves on), and what was used
# (negative: a void taking use back; zero drops nothing but adds no entry).
_USES = st.lists(st.tuples(st.integers(0, 3), st.decimals(-5, 20, places=2)), max_size=40)


@given(_USES)
def test_the_daily_use_text_written_from_the_last_is_the_full_text(
    uses: list[tuple[int, Decimal]],
) -> None:
    """The balance row's daily use is written from the text before it (rows.DailyTexts):
    whatever the steps (a new day, today again, a void back to zero), it is the text
    format_daily writes."""
    day = date(2026, 3, 1)
    days: tuple[tuple[str, Decimal], ...] = ()
    text = format_daily(days)
    for step, quantity in uses:
        day += timedelta(days=step)
        before, days = days, add_daily(days, day.isoformat(), quantity)
        text = format_daily_after(days, before, text)
        assert text == format_daily(days)
