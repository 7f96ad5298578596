"""What a scan means at a station, on the in-memory store: part, alias and GTIN
resolution, the journal, ``QTY:`` and ``RSN:`` control codes with their expiry,
duplicates and the debounce window (SPEC §4).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from edge.domain.model import Station, StationMode
from edge.domain.quantity import to_storage
from edge.domain.scanning import Debouncer
from tests.shop_floor import BUILD, SCRAP, SHIP, STATIONS, SteppingClock
from tests.unit.pump_catalog import FG_GTIN, HOUSING_GTIN, pump_store
from tests.unit.station_scans import Code, Label, StationScans, accepted, gs1, rejected

D = Decimal
Step = Callable[[StationScans], object]


@pytest.fixture
def floor(clock: SteppingClock) -> StationScans:
    return StationScans(pump_store(clock.moment()), clock)


def wait(seconds: float) -> Step:
    return lambda floor: floor.clock.advance(seconds)


def reboot(floor: StationScans) -> None:
    floor.clock.reboot("boot-2")


def at(station: str, code: str, scanner: str = "cli") -> Step:
    return lambda floor: floor.scan(station, code, scanner=scanner)


def repeat(code: str) -> Step:
    return lambda floor: floor.duplicate(SHIP, code)


def run(floor: StationScans, station: str, steps: list[str | Step]) -> None:
    for step in steps:
        if isinstance(step, str):
            floor.scan(station, step)
        else:
            step(floor)


# --- resolution and the journal ---------------------------------------------------


@pytest.mark.parametrize(
    ("code", "part"),
    [
        ("FG-100", "FG-100"),
        ("CUST-77", "FG-100"),  # customer part number alias
        ("9501101530003", "FG-100"),  # GTIN-13, stored as GTIN-14
        (FG_GTIN, "FG-100"),
        ("036000291452", "R-WIRE"),  # UPC-A (GTIN-12)
        (gs1(HOUSING_GTIN), "R-HOUSING"),
        (Code("]C1" + "01" + HOUSING_GTIN, "]C1", Label(HOUSING_GTIN, batch="LOT-7")), "R-HOUSING"),
    ],
)
def test_a_code_resolves_to_a_part_alias_or_gtin(
    floor: StationScans, code: str | Code, part: str
) -> None:
    assert floor.transaction(accepted(floor.scan(SCRAP, code))).part == part


@pytest.mark.parametrize(
    ("station", "code", "reason"),
    [
        (SHIP, "9501101530004", "unknown-part"),  # bad check digit: not read as a GTIN
        (SHIP, "fg-100", "unknown-part"),  # part numbers are case-sensitive
        (SHIP, gs1("05012345678900"), "unknown-gtin"),
        (SHIP, Code("(01)09501101530004", error="gs1-check-digit"), "gs1-check-digit"),
        (SHIP, Code("QTY:3", error="invalid-utf8"), "invalid-utf8"),  # no control code then
        (SHIP, Code("", error="empty"), "empty"),
        ("PACK-9", "FG-100", "unknown-station"),
        (SHIP, "A" * 4097, "too-long"),
    ],
)
def test_an_unusable_code_is_journaled_and_reported_but_moves_no_stock(
    floor: StationScans, station: str, code: str | Code, reason: str
) -> None:
    before, mark = floor.store.balances(), floor.store.last_seq()
    outcome = rejected(floor.scan(station, code), reason)
    assert floor.store.balances() == before
    journal = floor.store.scans()[-1]
    text = code.text if isinstance(code, Code) else code
    assert (journal.id, journal.scan.code, journal.status, journal.reason) == (
        outcome.scan_id, text, "rejected", reason,
    )  # fmt: skip
    [event] = floor.store.events(mark)
    assert (event["type"], event["scan_id"], event["code"], event["reason"]) == (
        "scan-rejected", outcome.scan_id, text, reason,
    )  # fmt: skip
    assert event["event_id"] == outcome.event_id


def test_a_read_cut_at_the_length_limit_is_rejected(floor: StationScans) -> None:
    rejected(floor.scan(SHIP, "FG-1", truncated=True), "too-long")


def test_the_journal_keeps_gtin_serial_and_batch(floor: StationScans) -> None:
    code = Code(f"(01){FG_GTIN}(10)LOT-7(21)SN-1", gs1=Label(FG_GTIN, "SN-1", batch="LOT-7"))
    accepted(floor.scan(SHIP, code, scanner="pack-1-hid"))
    [row] = floor.store.scans()
    assert (row.scan.gtin, row.scan.serial, row.scan.batch, row.scan.scanner) == (
        FG_GTIN, "SN-1", "LOT-7", "pack-1-hid",
    )  # fmt: skip


# --- QTY -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "quantity"),
    [
        pytest.param([], "1", id="one-by-default"),
        pytest.param(["QTY:3"], "3", id="multiplies-the-next-part-scan"),
        pytest.param(["QTY:3", "R-GASKET"], "1", id="used-by-one-scan-only"),
        pytest.param(["QTY:3", "QTY:5"], "5", id="replaced-by-a-new-one"),
        pytest.param(["QTY:3", "QTY:0"], "3", id="a-rejected-qty-leaves-the-pending-one"),
        pytest.param(["QTY:3", "NO-SUCH-PART"], "3", id="survives-a-rejected-part-scan"),
        pytest.param(["QTY:2.5"], "2.5", id="fractional"),
        pytest.param(["QTY:3", wait(29.9)], "3", id="alive-for-30-seconds"),
        pytest.param(["QTY:3", wait(30.1)], "1", id="expired-after-30-seconds"),
        pytest.param(["QTY:3", reboot], "1", id="not-across-a-reboot"),
        pytest.param(["QTY:3", at(SCRAP, "R-GASKET")], "3", id="per-station"),
        pytest.param([at(SHIP, "QTY:3", "pack-1-hid")], "3", id="shared-by-the-scanners"),
        pytest.param(["R-GASKET", "QTY:4", "VOID"], "1", id="cleared-by-void"),
        pytest.param(["QTY:3", repeat("R-GASKET")], "3", id="not-used-up-by-a-duplicate"),
    ],
)
def test_qty_applies_to_the_next_accepted_part_scan(
    floor: StationScans, steps: list[str | Step], quantity: str
) -> None:
    run(floor, SHIP, steps)
    outcome = accepted(floor.scan(SHIP, "R-GASKET"))
    assert floor.issued(outcome) == [("R-GASKET", -D(quantity))]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("QTY:0", "qty-out-of-range"),
        ("QTY:-2", "qty-out-of-range"),
        ("QTY:10001", "qty-out-of-range"),
        ("QTY:1e3", "bad-qty"),
        ("QTY:NaN", "bad-qty"),
        ("QTY:1_000", "bad-qty"),
        ("QTY:١٢", "bad-qty"),
        ("QTY:1.1234567", "bad-qty"),
        ("QTY:", "bad-qty"),
        ("QTY: 5", "bad-qty"),
    ],
)
def test_a_bad_qty_is_rejected(floor: StationScans, code: str, reason: str) -> None:
    rejected(floor.scan(SHIP, code), reason)
    assert floor.store.station_state(SHIP).qty is None


def test_qty_is_bounded_by_the_station_maximum(clock: SteppingClock) -> None:
    floor = StationScans(pump_store(clock.moment()), clock, [Station(SHIP, StationMode.SHIP)])
    accepted(floor.scan(SHIP, "QTY:10000"))
    floor.stations[SHIP] = Station(SHIP, StationMode.SHIP, max_qty=D(50))
    rejected(floor.scan(SHIP, "QTY:51"), "qty-out-of-range")
    accepted(floor.scan(SHIP, "QTY:50"))


def test_a_control_code_is_journaled_and_moves_no_stock(floor: StationScans) -> None:
    before, mark = floor.store.balances(), floor.store.last_seq()
    outcome = accepted(floor.scan(SHIP, "QTY:3"))
    assert (floor.store.balances(), floor.store.last_seq()) == (before, mark)
    assert outcome.event_id is None
    assert [row.scan_id for row in floor.store.transactions()].count(outcome.scan_id) == 0
    pending = floor.store.station_state(SHIP).qty
    assert pending is not None
    assert (pending.value, pending.scan_id) == ("3", outcome.scan_id)


def test_fractional_quantities_add_up_exactly(floor: StationScans) -> None:
    for _ in range(3):
        accepted(floor.scan(SHIP, "QTY:0.1"))
        accepted(floor.scan(SHIP, "R-GASKET"))
    assert to_storage(floor.store.balance("R-GASKET").on_hand) == "99.7"


# --- RSN -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "reason", "quantity"),
    [
        pytest.param([], "unspecified", "1", id="the-station-default"),
        pytest.param(["RSN:DAMAGED"], "DAMAGED", "1", id="for-the-next-scrap"),
        pytest.param(["RSN:DAMAGED", "R-HOUSING"], "unspecified", "1", id="for-one-scrap-only"),
        pytest.param(["RSN:DAMAGED", "RSN:TEST"], "TEST", "1", id="replaced-by-a-new-one"),
        pytest.param(["RSN:DAMAGED", wait(29)], "DAMAGED", "1", id="alive-for-30-seconds"),
        pytest.param(["RSN:DAMAGED", wait(31)], "unspecified", "1", id="expires-like-qty"),
        pytest.param(["QTY:2", "RSN:TEST"], "TEST", "2", id="with-qty-on-one-scrap"),
        pytest.param(["RSN:TEST", "QTY:2", "RSN:DAMAGED"], "DAMAGED", "2", id="qty-kept"),
    ],
)
def test_rsn_gives_the_reason_of_the_next_scrap(
    floor: StationScans, steps: list[str | Step], reason: str, quantity: str
) -> None:
    run(floor, SCRAP, steps)
    outcome = accepted(floor.scan(SCRAP, "R-HOUSING"))
    assert (floor.transaction(outcome).reason, floor.issued(outcome)) == (
        reason, [("R-HOUSING", -D(quantity))],
    )  # fmt: skip
    [event] = [e for e in floor.store.events() if e.get("scan_id") == outcome.scan_id]
    assert (event["type"], event["reason"]) == ("scrap", reason)


@pytest.mark.parametrize(
    ("station", "code", "reason"),
    [
        (SHIP, "RSN:DAMAGED", "reason-not-scrap-station"),
        (BUILD, "RSN:DAMAGED", "reason-not-scrap-station"),
        (SCRAP, "RSN:", "bad-reason"),
        (SCRAP, "RSN:  ", "bad-reason"),
        ("SCRAP-2", "RSN:TEST", "unknown-reason"),  # not on that station's list
    ],
)
def test_a_bad_rsn_is_rejected(clock: SteppingClock, station: str, code: str, reason: str) -> None:
    listed = Station("SCRAP-2", StationMode.SCRAP, scrap_reasons=("DAMAGED", "WRONG-PART"))
    floor = StationScans(pump_store(clock.moment()), clock, [*STATIONS, listed])
    rejected(floor.scan(station, code), reason)


def test_a_station_s_own_reasons_and_default(clock: SteppingClock) -> None:
    own = Station("SCRAP-2", StationMode.SCRAP, default_reason="NOT-GIVEN",
                  scrap_reasons=("DAMAGED", "WRONG-PART"))  # fmt: skip
    floor = StationScans(pump_store(clock.moment()), clock, [*STATIONS, own])
    assert floor.transaction(accepted(floor.scan("SCRAP-2", "R-HOUSING"))).reason == "NOT-GIVEN"
    accepted(floor.scan("SCRAP-2", "RSN:WRONG-PART"))
    assert floor.transaction(accepted(floor.scan("SCRAP-2", "R-HOUSING"))).reason == "WRONG-PART"
    accepted(floor.scan(SCRAP, "RSN:TEST"))  # SCRAP-1 has no list


# --- duplicates ----------------------------------------------------------------------


def test_a_duplicate_is_journaled_and_does_nothing_else(floor: StationScans) -> None:
    before, mark = floor.store.balances(), floor.store.last_seq()
    outcome = floor.duplicate(SHIP, "R-GASKET")
    assert (outcome.status, outcome.reason, outcome.event_id) == ("duplicate", None, None)
    assert (floor.store.balances(), floor.store.last_seq()) == (before, mark)
    [row] = floor.store.scans()
    assert (row.id, row.status, row.scan.code) == (outcome.scan_id, "duplicate", "R-GASKET")


@pytest.mark.parametrize(
    ("reads", "duplicates"),
    [
        pytest.param([("s1", b"A", 0.0), ("s1", b"A", 0.5)], [False, True], id="within-window"),
        pytest.param([("s1", b"A", 0.0), ("s1", b"A", 1.0)], [False, True], id="at-window-edge"),
        pytest.param([("s1", b"A", 0.0), ("s1", b"A", 1.01)], [False, False], id="after-window"),
        pytest.param(
            [("s1", b"A", 0.0), ("s1", b"B", 0.1), ("s1", b"A", 0.2)], [False, False, False],
            id="another-code-in-between-resets",
        ),
        pytest.param(
            [("s1", b"A", 0.0), ("s2", b"A", 0.1)], [False, False], id="per-scanner",
        ),
        pytest.param(
            [("s1", b"A", 0.0), ("s1", b"A", 0.9), ("s1", b"A", 1.8)], [False, True, True],
            id="measured-from-the-previous-read-whatever-its-status",
        ),
        pytest.param(
            [("s1", b"A", 5.0), ("s1", b"A", 4.5)], [False, False], id="clock-going-back",
        ),
    ],
)  # fmt: skip
def test_debounce_window(reads: list[tuple[str, bytes, float]], duplicates: list[bool]) -> None:
    debouncer = Debouncer(window_s=1.0)
    assert [debouncer.is_duplicate(*read) for read in reads] == duplicates


def test_a_forgotten_scanner_starts_afresh() -> None:
    debouncer = Debouncer(window_s=1.0)
    assert not debouncer.is_duplicate("s1", b"A", 0.0)
    debouncer.forget("s1")
    assert not debouncer.is_duplicate("s1", b"A", 0.1)
    assert debouncer.is_duplicate("s1", b"A", 0.2)
