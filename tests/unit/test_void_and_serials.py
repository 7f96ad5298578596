"""VOID and serialized GS1 codes on the in-memory store (SPEC §4): the exact
negation, one step back only, the window, freed serials, and a GS1 serial
that ships once.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.domain.model import BomLine, Station, StationMode
from tests.shop_floor import BUILD, SCRAP, SHIP, STATIONS, SteppingClock
from tests.unit.pump_catalog import FG_GTIN, HOUSING_GTIN, ITEMS, ONE_FG, UOM, pump_store, times
from tests.unit.station_scans import StationScans, accepted, gs1, rejected

D = Decimal


@pytest.fixture
def floor(clock: SteppingClock) -> StationScans:
    return StationScans(pump_store(clock.moment()), clock)


# --- VOID ----------------------------------------------------------------------------


def test_void_writes_the_exact_negation_and_restores_the_balances(floor: StationScans) -> None:
    before = floor.store.balances()
    accepted(floor.scan(SHIP, "QTY:3"))
    shipped = accepted(floor.scan(SHIP, "FG-100"))
    void = accepted(floor.scan(SHIP, "VOID"))
    original, reversal = floor.transaction(shipped), floor.transaction(void)
    assert floor.issued(shipped) == times(ONE_FG, "3")
    assert floor.issued(void) == [(part, -quantity) for part, quantity in times(ONE_FG, "3")]
    assert {row.kind for row in floor.store.ledger(reversal.id)} == {"void"}
    assert floor.store.balances() == before
    assert (reversal.kind, original.voided_by) == ("void", reversal.id)
    [event] = [e for e in floor.store.events() if e["type"] == "void"]
    assert event["event_id"] == void.event_id
    assert (event["voided_event_id"], event["voided_type"]) == (shipped.event_id, "backflush")
    assert (event["part"], event["quantity"], event["station"]) == ("FG-100", 3, SHIP)
    assert event["lines"] == [
        {"part": p, "quantity": -q, "uom": UOM[p]} for p, q in times(ONE_FG, "3")
    ]


@pytest.mark.parametrize(
    ("station", "code", "restored"),
    [
        pytest.param(SCRAP, "R-HOUSING", {"R-HOUSING": D(50)}, id="a-scrap"),
        pytest.param(
            BUILD, "SUB-200", {"SUB-200": D(20), "R-SCREW": D(1000), "R-WIRE": D(0)},
            id="a-build-takes-back-receipt-and-components",
        ),
        pytest.param(SHIP, "SUB-200", {"SUB-200": D(20)}, id="a-stocked-assembly-shipped"),
    ],
)  # fmt: skip
def test_void_reverses_a_scrap_or_build_too(
    floor: StationScans, station: str, code: str, restored: dict[str, Decimal]
) -> None:
    outcome = accepted(floor.scan(station, code))
    accepted(floor.scan(station, "VOID"))
    balances = floor.store.balances()
    assert {part: balances[part] for part in restored} == restored
    assert floor.transaction(outcome).voided_by is not None


def test_void_reverses_the_recorded_rows_not_a_new_explosion(floor: StationScans) -> None:
    accepted(floor.scan(SHIP, "FG-100"))
    floor.store.load_catalog(ITEMS, [BomLine("KIT-1", "R-SCREW", D(9))])  # was 4
    void = accepted(floor.scan(SHIP, "VOID"))
    assert floor.issued(void) == [(part, -quantity) for part, quantity in ONE_FG]


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        pytest.param([], "nothing-to-void", id="nothing-at-the-station"),
        pytest.param([(SCRAP, "R-GASKET")], "nothing-to-void", id="another-station-s"),
        pytest.param([(SHIP, "R-GASKET"), (SHIP, "VOID")], "already-voided", id="second-void"),
        pytest.param(
            [(SHIP, "R-GASKET"), (SHIP, "R-HOUSING"), (SHIP, "VOID")], "already-voided",
            id="never-steps-further-back",
        ),
    ],
)  # fmt: skip
def test_void_is_refused_with_nothing_voidable(
    floor: StationScans, steps: list[tuple[str, str]], reason: str
) -> None:
    for station, code in steps:
        accepted(floor.scan(station, code))
    before = floor.store.balances()
    rejected(floor.scan(SHIP, "VOID"), reason)
    assert floor.store.balances() == before


def test_void_skips_rejected_scans_and_control_codes(floor: StationScans) -> None:
    accepted(floor.scan(SHIP, "R-GASKET", scanner="pack-1-hid"))
    rejected(floor.scan(SHIP, "NO-SUCH-PART"), "unknown-part")
    accepted(floor.scan(SHIP, "QTY:7"))
    accepted(floor.scan(SHIP, "VOID", scanner="cli"))  # any scanner of the station
    assert floor.store.balance("R-GASKET").on_hand == 100


@pytest.mark.parametrize(
    ("window_s", "wait_s", "reboot", "voided"),
    [
        pytest.param(600.0, 599, False, True, id="inside-the-default-10-minutes"),
        pytest.param(600.0, 600, False, True, id="at-the-end-of-the-window"),
        pytest.param(600.0, 601, False, False, id="after-the-window"),
        pytest.param(60.0, 61, False, False, id="the-station-s-own-window"),
        pytest.param(600.0, 1, True, False, id="not-across-a-reboot"),
    ],
)
def test_void_window(
    clock: SteppingClock, window_s: float, wait_s: float, reboot: bool, voided: bool
) -> None:
    stations = [Station(SHIP, StationMode.SHIP, void_window_s=window_s), *STATIONS[1:]]
    floor = StationScans(pump_store(clock.moment()), clock, stations)
    accepted(floor.scan(SHIP, "R-GASKET"))
    clock.advance(wait_s)
    if reboot:
        clock.reboot("boot-2")
    outcome = floor.scan(SHIP, "VOID")
    if voided:
        accepted(outcome)
    else:
        rejected(outcome, "void-window-expired")
    assert floor.store.balance("R-GASKET").on_hand == (100 if voided else 99)


def test_void_keeps_the_reorder_and_re_arms_low_stock(floor: StationScans) -> None:
    accepted(floor.scan(SHIP, "QTY:41"))
    accepted(floor.scan(SHIP, "R-HOUSING"))  # 50 -> 9: low-stock, a reorder of 25
    assert not floor.store.balance("R-HOUSING").armed
    mark = floor.store.last_seq()
    accepted(floor.scan(SHIP, "VOID"))
    assert [e["type"] for e in floor.store.events(mark)] == ["void"]
    assert floor.store.balance("R-HOUSING").on_hand == 50
    assert floor.store.balance("R-HOUSING").armed
    assert [(row.ordered, row.open) for row in floor.store.reorders()] == [(D(25), True)]
    assert floor.store.snapshots()["R-HOUSING"]["on_order"] == 25


# --- serials -------------------------------------------------------------------------


def test_a_serial_ships_once(floor: StationScans) -> None:
    shipped = accepted(floor.scan(SHIP, gs1(FG_GTIN, "SN-1")))
    before = floor.store.balances()
    rejected(floor.scan(SHIP, gs1(FG_GTIN, "SN-1")), "serial-already-shipped")
    assert floor.store.balances() == before
    accepted(floor.scan(SHIP, gs1(FG_GTIN, "SN-2")))
    assert floor.store.shipped_serials() == {
        (FG_GTIN, "SN-1"): floor.transaction(shipped).id,
        (FG_GTIN, "SN-2"): floor.transaction(shipped).id + 1,
    }


def test_void_frees_a_shipped_serial(floor: StationScans) -> None:
    accepted(floor.scan(SHIP, gs1(FG_GTIN, "SN-1")))
    accepted(floor.scan(SHIP, "VOID"))
    assert floor.store.shipped_serials() == {}
    accepted(floor.scan(SHIP, gs1(FG_GTIN, "SN-1")))
    rejected(floor.scan(SHIP, gs1(FG_GTIN, "SN-1")), "serial-already-shipped")


def test_only_a_shipment_records_a_serial(floor: StationScans) -> None:
    accepted(floor.scan(SCRAP, gs1(FG_GTIN, "SN-1")))
    accepted(floor.scan(SCRAP, gs1(FG_GTIN, "SN-1")))
    assert floor.store.shipped_serials() == {}
    accepted(floor.scan(SHIP, gs1(FG_GTIN, "SN-1")))


@pytest.mark.parametrize(
    ("qty", "count", "serial", "outcome"),
    [
        pytest.param(None, None, "SN-1", "1", id="a-serialized-unit"),
        pytest.param("2", None, "SN-1", "serialized-quantity", id="qty-on-a-serial"),
        pytest.param("0.5", None, "SN-1", "serialized-quantity", id="fraction-on-a-serial"),
        pytest.param(None, 2, "SN-1", "serialized-quantity", id="count-on-a-serial"),
        pytest.param(None, 12, None, "12", id="the-label-s-count"),
        pytest.param("3", 12, None, "36", id="qty-times-count"),
    ],
)
def test_a_part_scan_quantity_is_qty_times_the_label_count(
    floor: StationScans, qty: str | None, count: int | None, serial: str | None, outcome: str
) -> None:
    if qty is not None:
        accepted(floor.scan(SCRAP, f"QTY:{qty}"))
    result = floor.scan(SCRAP, gs1(HOUSING_GTIN, serial, count))
    if outcome == "serialized-quantity":
        rejected(result, outcome)
        assert floor.store.balance("R-HOUSING").on_hand == 50
    else:
        assert floor.issued(accepted(result)) == [("R-HOUSING", -D(outcome))]
