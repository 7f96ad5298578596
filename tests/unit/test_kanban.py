"""Kanban two-bin beside backflush on the in-memory store (SPEC §13): a card scanned
empty at a production station reconciles one container against the use recorded
since the part's previous empty card; a receive station refills it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.domain.model import (
    BomLine,
    Card,
    CardState,
    InventoryPolicy,
    Item,
    ReorderPolicy,
    Replenishment,
    Station,
    StationMode,
)
from tests.shop_floor import SteppingClock
from tests.unit.fake_store import InMemoryStore
from tests.unit.station_scans import StationScans, accepted, rejected

D = Decimal
LINE, SCRAP, LAB, DOCK = "LINE-1", "SCRAP-1", "LAB-1", "DOCK-1"
STATIONS = (
    Station(LINE, StationMode.SHIP),
    Station(SCRAP, StationMode.SCRAP),
    Station(LAB, StationMode.ISSUE),
    Station(DOCK, StationMode.RECEIVE),
)
# A pump takes 4 screws; screws sit in two containers of 100, one card each. The
# reorder point makes low-stock fire; a kanban part raises no reorder from it.
ITEMS = (
    Item("PUMP", "Pump"),
    Item("SCREW", "Screw", stocked=True, replenishment=Replenishment.KANBAN,
         policy=ReorderPolicy(reorder_point=D(50))),
    Item("HOSE", "Hose", stocked=True, policy=ReorderPolicy(reorder_point=D(5), reorder_qty=D(20))),
)  # fmt: skip
BOM = (BomLine("PUMP", "SCREW", D(4)), BomLine("PUMP", "HOSE", D(1)))
CARDS = (Card("KB-A", "SCREW", D(100), "rack 3"), Card("KB-B", "SCREW", D(100), "rack 3"))


def floor_with(clock: SteppingClock, reconcile: str = "report") -> StationScans:
    store = InMemoryStore()
    store.load_catalog(ITEMS, BOM)
    store.post_opening({"SCREW": D(200), "HOSE": D(100)}, clock.moment())
    store.load_cards(CARDS, clock.moment())
    policy = InventoryPolicy(kanban_reconcile=reconcile)  # type: ignore[arg-type]
    return StationScans(store, clock, STATIONS, policy)


def ship(floor: StationScans, pumps: int) -> None:
    accepted(floor.scan(LINE, f"QTY:{pumps}"))
    accepted(floor.scan(LINE, "PUMP"))


def events(floor: StationScans, kind: str) -> list[dict[str, object]]:
    return [event for event in floor.store.events() if event["type"] == kind]


@pytest.mark.parametrize(
    ("reconcile", "on_hand", "ledger"),
    [
        pytest.param("report", D(108), [], id="report"),
        pytest.param("adjust", D(100), [("SCREW", D(-8), "kanban-adjust")], id="adjust"),
    ],
)
def test_the_example_23_pumps_then_a_card_empty_is_8_screws_short(
    clock: SteppingClock, reconcile: str, on_hand: Decimal, ledger: list[tuple[str, Decimal, str]]
) -> None:
    floor = floor_with(clock, reconcile)
    ship(floor, 23)  # 92 screws backflushed
    outcome = accepted(floor.scan(LINE, "KB-A"))
    assert outcome.message == "card KB-A empty: refill requested"
    [event] = events(floor, "kanban-empty")
    assert event["event_id"] == outcome.event_id
    assert (event["card"], event["part"], event["container_qty"], event["location"]) == (
        "KB-A", "SCREW", 100, "rack 3",
    )  # fmt: skip
    assert (event["consumed"], event["reconciliation"]) == (92, -8)
    assert event["adjusted"] is (reconcile == "adjust")
    assert (event["on_hand"], event["station"], event["since"]) == (on_hand, LINE, event["since"])
    assert floor.store.balances()["SCREW"] == on_hand
    txn = floor.transaction(outcome)
    assert (txn.kind, txn.part, txn.quantity) == ("kanban-empty", "SCREW", D(100))
    assert [(r.part, r.quantity, r.kind) for r in floor.store.ledger(txn.id)] == ledger
    assert floor.store.card("KB-A").state is CardState.EMPTY  # type: ignore[union-attr]
    assert floor.store.snapshots()["SCREW"]["cards"] == {"full": ["KB-B"], "empty": ["KB-A"]}


@pytest.mark.parametrize(
    ("scans", "consumed", "reconciliation"),
    [
        # (station, code) before the card; scrap and issue count as use, as backflush does.
        pytest.param([(LINE, "QTY:25"), (LINE, "PUMP")], 100, 0, id="exact"),
        pytest.param([(LINE, "QTY:27"), (LINE, "PUMP")], 108, 8, id="over-recorded"),
        pytest.param([(LINE, "QTY:20"), (LINE, "PUMP"), (SCRAP, "QTY:12"), (SCRAP, "SCREW"),
                      (LAB, "RSN:TEST"), (LAB, "QTY:0.5"), (LAB, "SCREW")], D("92.5"),
                     D("-7.5"), id="scrap-and-issue"),
        pytest.param([(LINE, "QTY:20"), (LINE, "PUMP"), (LINE, "VOID")], 0, -100, id="voided"),
        pytest.param([], 0, -100, id="nothing-recorded"),
    ],
)  # fmt: skip
def test_the_reconciliation_is_the_use_since_the_cards_were_loaded_less_a_container(
    clock: SteppingClock, scans: list[tuple[str, str]], consumed: Decimal, reconciliation: Decimal
) -> None:
    floor = floor_with(clock)
    for station, code in scans:
        accepted(floor.scan(station, code))
    accepted(floor.scan(SCRAP, "KB-B"))
    [event] = events(floor, "kanban-empty")
    assert (event["consumed"], event["reconciliation"]) == (D(consumed), D(reconciliation))


def test_each_empty_card_reconciles_from_the_previous_one_and_a_refill_makes_it_full(
    clock: SteppingClock,
) -> None:
    floor = floor_with(clock, "adjust")
    ship(floor, 23)
    accepted(floor.scan(LINE, "KB-A"))  # -8 adjusted: 100 on hand
    clock.advance(3600)
    refill = accepted(floor.scan(DOCK, "KB-A"))
    assert refill.message == "card KB-A refilled"
    assert floor.store.balances()["SCREW"] == D(200)
    [receipt] = events(floor, "receipt")
    assert (receipt["part"], receipt["quantity"], receipt["card"]) == ("SCREW", 100, "KB-A")
    assert floor.store.card("KB-A") == CARDS[0]  # full again, with no empty time
    ship(floor, 26)  # 104 since the previous empty card
    accepted(floor.scan(LINE, "KB-B"))
    first, second = events(floor, "kanban-empty")
    assert (second["consumed"], second["reconciliation"], second["on_hand"]) == (104, 4, 100)
    assert second["since"] == first["occurred_at"]


@pytest.mark.parametrize(
    ("station", "code", "first", "reason"),
    [
        pytest.param(LINE, "KB-A", LINE, "card-already-empty", id="empty-twice"),
        pytest.param(DOCK, "KB-B", None, "card-already-full", id="refill-a-full-card"),
        pytest.param(DOCK, "SCREW", None, "not-a-card", id="a-part-at-a-receive-station"),
        pytest.param(LINE, "KB-Z", None, "unknown-part", id="an-unknown-code"),
    ],
)
def test_a_card_scan_that_cannot_be_is_rejected_and_changes_nothing(
    clock: SteppingClock, station: str, code: str, first: str | None, reason: str
) -> None:
    floor = floor_with(clock)
    if first is not None:
        accepted(floor.scan(first, code))
    before = (floor.store.balances(), floor.store.cards_of("SCREW"))
    outcome = rejected(floor.scan(station, code), reason)
    assert (floor.store.balances(), floor.store.cards_of("SCREW")) == before
    assert events(floor, "scan-rejected")[-1]["scan_id"] == outcome.scan_id


def test_a_card_scan_clears_a_pending_quantity_which_is_not_the_cards(
    clock: SteppingClock,
) -> None:
    floor = floor_with(clock)
    accepted(floor.scan(LINE, "QTY:5"))
    accepted(floor.scan(LINE, "KB-A"))
    accepted(floor.scan(LINE, "PUMP"))  # one pump, not five
    assert floor.store.balances()["SCREW"] == D(196)


def test_a_kanban_part_raises_no_reorder_but_low_stock_still_fires(clock: SteppingClock) -> None:
    floor = floor_with(clock)
    ship(floor, 40)  # 160 screws: 40 left, below the point of 50; 40 hoses: 60 left
    accepted(floor.scan(SCRAP, "QTY:56"))
    accepted(floor.scan(SCRAP, "HOSE"))  # 4 hoses left: a reorder part reorders
    assert [e["part"] for e in events(floor, "low-stock")] == ["SCREW", "HOSE"]
    assert [e["part"] for e in events(floor, "reorder")] == ["HOSE"]
    snapshot = floor.store.snapshots()["SCREW"]
    assert (snapshot["replenishment"], snapshot["on_order"]) == ("kanban", 0)
    assert floor.store.snapshots()["HOSE"]["cards"] is None


def test_void_after_a_card_scan_is_refused_and_never_reaches_back_to_the_shipment(
    clock: SteppingClock,
) -> None:
    floor = floor_with(clock, "adjust")
    ship(floor, 23)
    accepted(floor.scan(LINE, "KB-A"))
    outcome = rejected(floor.scan(LINE, "VOID"), "card-scan-not-voided")
    assert "VOID does not undo a card scan" in outcome.message
    assert floor.store.balances()["SCREW"] == D(100)  # the 92 and the -8 both stand
    assert not any(txn.voided_by for txn in floor.store.transactions())
