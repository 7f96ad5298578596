"""The inventory core on a real SQLite file: scans at ship, scrap and build stations,
control codes, VOID, GTIN and GS1, receipts, reorders, counts, the outbox, and
what a failure in the middle of a scan leaves behind.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from edge.domain import exactjson
from edge.domain.events import EVENT_SCHEMA
from edge.domain.inventory import Rejection
from edge.domain.model import Station, StationMode
from edge.domain.quantity import ZERO
from edge.domain.scanning import ScanInput, ScanOutcome
from edge.domain.timestamps import rfc3339
from edge.service import PendingScan
from edge.store import schema
from edge.store.counters import WRITES
from edge.store.database import open_database
from hardware.barcode import decode
from tests.shop_floor import (
    BUILD,
    NODE,
    SCRAP,
    SHIP,
    SITE,
    STATIONS,
    TOPIC_PREFIX,
    FailingLedgerService,
    LedgerFailure,
    ShopFloor,
    SteppingClock,
    make_service,
)

D = Decimal

ITEMS = """\
part,description,stocked,reorder_point,reorder_qty,max_qty,order_multiple,aliases
FG-100,Pump,false,,,,,9501101530003|CUST-77
KIT-1,Fastener kit,false,,,,,
SUB-200,Motor,true,2,,,,
R-HOUSING,Housing,false,10,25,,,4006381333931
R-SCREW,Screw,false,100,,500,50,
R-GASKET,Gasket,false,,,,,
R-WIRE,Wire (m),false,5,,,,036000291452
"""
# FG-100 explodes through the phantom KIT-1 and consumes the stocked SUB-200 as itself.
BOM = """\
parent,component,qty_per,scrap_pct
FG-100,KIT-1,1,0
FG-100,SUB-200,1,0
FG-100,R-HOUSING,1,0
KIT-1,R-SCREW,4,0
KIT-1,R-GASKET,0.5,10
SUB-200,R-WIRE,0.311,0
SUB-200,R-SCREW,2,0
"""
OPENING = {"SUB-200": "20", "R-HOUSING": "50", "R-SCREW": "1000", "R-GASKET": "100"}
FG_GTIN = "09501101530003"
HOUSING_GTIN = "04006381333931"
# One FG-100, as ledger rows: phantom kit exploded, sub-assembly issued as itself.
ONE_FG = [("R-GASKET", D("-0.55")), ("R-HOUSING", D(-1)), ("R-SCREW", D(-4)), ("SUB-200", D(-1))]


@pytest.fixture
def plant(floor: ShopFloor) -> ShopFloor:
    """The floor with the pump catalog loaded and opening stock posted (R-WIRE has none)."""
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    return floor


def scan_txn(floor: ShopFloor, outcome: ScanOutcome) -> Any:
    [txn] = [row for row in floor.transactions() if row.scan_id == outcome.scan_id]
    return txn


def accepted(outcome: ScanOutcome) -> ScanOutcome:
    assert outcome.status == "accepted", outcome
    return outcome


def rejected(outcome: ScanOutcome, reason: str) -> ScanOutcome:
    assert (outcome.status, outcome.reason) == ("rejected", reason), outcome
    return outcome


def issued(floor: ShopFloor, outcome: ScanOutcome) -> list[tuple[str, Decimal]]:
    """The ledger rows written by an accepted part scan."""
    return floor.ledger(scan_txn(floor, outcome).id)


def times(rows: list[tuple[str, Decimal]], factor: str) -> list[tuple[str, Decimal]]:
    return [(part, quantity * D(factor)) for part, quantity in rows]


def everything_but_scans(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the journal, and but the ``writes`` counter every commit raises."""
    with engine.connect() as connection:
        tables = {
            table.name: sorted(tuple(row) for row in connection.execute(select(table)))
            for table in schema.metadata.sorted_tables
            if table is not schema.scans
        }
    tables["counters"] = [row for row in tables["counters"] if row[0] != WRITES]
    return tables


# --- ship, scrap, build ----------------------------------------------------------


def test_ship_explodes_phantoms_and_issues_a_stocked_sub_assembly_as_itself(
    plant: ShopFloor,
) -> None:
    outcome = accepted(plant.scan(SHIP, "FG-100"))
    assert issued(plant, outcome) == ONE_FG
    assert plant.on_hand("R-GASKET") == D("99.45")
    assert plant.on_hand("SUB-200") == D(19)
    assert plant.on_hand("R-WIRE") == ZERO  # SUB-200's own components are not touched
    txn = scan_txn(plant, outcome)
    assert (txn.kind, txn.part, txn.quantity, txn.station, txn.scanner) == (
        "backflush", "FG-100", "1", SHIP, "cli",
    )  # fmt: skip
    [event] = [e for e in plant.events() if e["type"] == "backflush"]
    assert event["event_id"] == outcome.event_id == txn.event_id
    assert event["lines"] == [{"part": p, "quantity": -q, "uom": "EA"} for p, q in ONE_FG]
    assert event["bom_hash"] == txn.bom_hash


def test_a_backflush_records_its_structure_once_by_hash(plant: ShopFloor) -> None:
    first = scan_txn(plant, accepted(plant.scan(SHIP, "FG-100")))
    accepted(plant.scan(SHIP, "FG-100"))
    structures = plant.rows(schema.bom_structures)
    assert [(row.bom_hash, row.lines) for row in structures] == [
        (first.bom_hash, '[["R-GASKET",0.55],["R-HOUSING",1],["R-SCREW",4],["SUB-200",1]]')
    ]
    # A later BOM change makes a new structure and leaves the recorded one alone.
    plant.load(ITEMS, "parent,component,qty_per,scrap_pct\nKIT-1,R-SCREW,6,0\n")
    second = scan_txn(plant, accepted(plant.scan(SHIP, "FG-100")))
    assert second.bom_hash != first.bom_hash
    assert ("R-SCREW", D(-6)) in plant.ledger(second.id)
    assert {row.bom_hash for row in plant.rows(schema.bom_structures)} == {
        first.bom_hash,
        second.bom_hash,
    }
    assert plant.ledger(first.id) == ONE_FG


def test_ship_of_a_part_without_bom_issues_the_part(plant: ShopFloor) -> None:
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-1))]


def test_ship_of_a_stocked_assembly_issues_it_as_itself(plant: ShopFloor) -> None:
    assert issued(plant, accepted(plant.scan(SHIP, "SUB-200"))) == [("SUB-200", D(-1))]


def test_scrap_of_a_purchased_part_issues_it_with_the_default_reason(plant: ShopFloor) -> None:
    outcome = accepted(plant.scan(SCRAP, "R-HOUSING"))
    assert issued(plant, outcome) == [("R-HOUSING", D(-1))]
    txn = scan_txn(plant, outcome)
    assert (txn.kind, txn.reason) == ("scrap", "unspecified")
    [event] = [e for e in plant.events() if e["type"] == "scrap"]
    assert event["reason"] == "unspecified"
    assert event["lines"] == [{"part": "R-HOUSING", "quantity": 1, "uom": "EA"}]


def test_scrap_of_an_assembly_explodes_it_like_a_shipment(plant: ShopFloor) -> None:
    assert issued(plant, accepted(plant.scan(SCRAP, "FG-100"))) == ONE_FG
    # a phantom, scrapped on its own, gives up its components too
    assert issued(plant, accepted(plant.scan(SCRAP, "KIT-1"))) == [
        ("R-GASKET", D("-0.55")),
        ("R-SCREW", D(-4)),
    ]


def test_scrap_of_a_stocked_assembly_issues_it_as_itself(plant: ShopFloor) -> None:
    assert issued(plant, accepted(plant.scan(SCRAP, "SUB-200"))) == [("SUB-200", D(-1))]


def test_build_scan_receives_the_assembly_and_backflushes_its_own_bom(plant: ShopFloor) -> None:
    plant.scan(BUILD, "QTY:10")
    outcome = accepted(plant.scan(BUILD, "SUB-200"))
    assert issued(plant, outcome) == [
        ("SUB-200", D(10)),
        ("R-SCREW", D(-20)),
        ("R-WIRE", D("-3.11")),
    ]
    assert plant.on_hand("SUB-200") == D(30)
    assert plant.on_hand("R-WIRE") == D("-3.11")
    [event] = [e for e in plant.events() if e["type"] == "build"]
    assert event["lines"] == [
        {"part": "R-SCREW", "quantity": 20, "uom": "EA"},
        {"part": "R-WIRE", "quantity": D("3.11"), "uom": "EA"},
    ]


def test_build_command_does_what_a_build_scan_does(plant: ShopFloor) -> None:
    posted = plant.build("SUB-200", "2")
    assert plant.ledger(posted.txn_id) == [
        ("SUB-200", D(2)),
        ("R-SCREW", D(-4)),
        ("R-WIRE", D("-0.622")),
    ]
    [event] = [e for e in plant.events() if e["type"] == "build"]
    assert (event["part"], event["quantity"], event["station"], event["scan_id"]) == (
        "SUB-200", 2, None, None,
    )  # fmt: skip


@pytest.mark.parametrize("part", ["KIT-1", "FG-100", "R-GASKET"])
def test_only_a_stocked_assembly_can_be_built(plant: ShopFloor, part: str) -> None:
    before = everything_but_scans(plant.engine)
    with pytest.raises(Rejection) as excinfo:
        plant.build(part, "1")
    assert excinfo.value.reason == "not-buildable"
    rejected(plant.scan(BUILD, part), "not-buildable")
    after = everything_but_scans(plant.engine)
    assert after["ledger"] == before["ledger"]
    assert after["balances"] == before["balances"]


@pytest.mark.parametrize("quantity", ["0", "-1", "-0.5"])
def test_a_build_of_zero_or_less_is_refused_and_changes_nothing(
    plant: ShopFloor, quantity: str
) -> None:
    before = everything_but_scans(plant.engine)
    with pytest.raises(Rejection) as excinfo:
        plant.build("SUB-200", quantity)
    assert excinfo.value.reason == "bad-quantity"
    assert everything_but_scans(plant.engine) == before


def test_a_build_scan_with_a_fractional_qty_still_builds(plant: ShopFloor) -> None:
    accepted(plant.scan(BUILD, "QTY:0.5"))
    outcome = accepted(plant.scan(BUILD, "SUB-200"))
    assert issued(plant, outcome) == [
        ("SUB-200", D("0.5")),
        ("R-SCREW", D(-1)),
        ("R-WIRE", D("-0.1555")),
    ]
    rejected(plant.scan(BUILD, "QTY:0"), "qty-out-of-range")  # a scan never asks for 0


def test_an_unknown_code_is_journaled_and_reported_but_moves_no_stock(plant: ShopFloor) -> None:
    before = plant.balances()
    mark = plant.last_seq()
    outcome = rejected(plant.scan(SHIP, "NO-SUCH-PART"), "unknown-part")
    assert plant.balances() == before
    [row] = [row for row in plant.scans() if row.id == outcome.scan_id]
    assert (row.code, row.status, row.reason, row.station) == (
        "NO-SUCH-PART", "rejected", "unknown-part", SHIP,
    )  # fmt: skip
    [event] = plant.events(mark)
    assert event["type"] == "scan-rejected"
    assert (event["scan_id"], event["code"], event["reason"]) == (
        outcome.scan_id, "NO-SUCH-PART", "unknown-part",
    )  # fmt: skip


def test_a_scan_at_an_unconfigured_station_is_rejected(plant: ShopFloor) -> None:
    rejected(plant.scan("PACK-9", "FG-100"), "unknown-station")


@pytest.mark.parametrize(
    ("data", "reason", "code"),
    [
        (b"FG-\xff100", "invalid-utf8", "FG-\\xff100"),
        (b"", "empty", ""),
        (b"]C1", "empty", "]C1"),
        (b"A" * 5000, "too-long", "A" * 5000),
    ],
)
def test_unusable_bytes_are_journaled_as_read(
    plant: ShopFloor, data: bytes, reason: str, code: str
) -> None:
    before = plant.balances()
    outcome = rejected(plant.scan(SHIP, data), reason)
    [row] = [row for row in plant.scans() if row.id == outcome.scan_id]
    assert (row.data, row.code, row.status, row.reason) == (data, code, "rejected", reason)
    assert plant.balances() == before


def test_a_read_cut_at_the_scanner_length_limit_is_rejected(plant: ShopFloor) -> None:
    read = ScanInput("pack-1-serial", SHIP, b"FG-1", plant.clock.moment(), truncated=True)
    [outcome] = plant.service.process_scans([PendingScan(read, decode(read.data))])
    rejected(outcome, "too-long")


# --- QTY ---------------------------------------------------------------------


def test_qty_multiplies_the_next_accepted_part_scan_only(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    assert issued(plant, accepted(plant.scan(SHIP, "FG-100"))) == times(ONE_FG, "3")
    assert issued(plant, accepted(plant.scan(SHIP, "FG-100"))) == ONE_FG


def test_qty_control_code_moves_no_stock(plant: ShopFloor) -> None:
    before = plant.balances()
    outcome = accepted(plant.scan(SHIP, "QTY:3"))
    assert plant.balances() == before
    assert [row for row in plant.transactions() if row.scan_id == outcome.scan_id] == []


def test_qty_fractional_and_exact(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:0.1"))
    accepted(plant.scan(SHIP, "R-GASKET"))
    accepted(plant.scan(SHIP, "QTY:0.1"))
    accepted(plant.scan(SHIP, "R-GASKET"))
    accepted(plant.scan(SHIP, "QTY:0.1"))
    accepted(plant.scan(SHIP, "R-GASKET"))
    assert plant.on_hand("R-GASKET") == D("99.7")
    raw = [row.on_hand for row in plant.rows(schema.balances) if row.part == "R-GASKET"]
    assert raw == ["99.7"]


def test_qty_survives_a_rejected_part_scan(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    rejected(plant.scan(SHIP, "NO-SUCH-PART"), "unknown-part")
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-3))]


def test_a_new_qty_replaces_the_pending_one(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    accepted(plant.scan(SHIP, "QTY:5"))
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-5))]


@pytest.mark.parametrize(("wait_s", "quantity"), [(29.9, D(-3)), (30.1, D(-1)), (3600, D(-1))])
def test_qty_expires_30_seconds_after_its_scan(
    plant: ShopFloor, wait_s: float, quantity: Decimal
) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    plant.clock.advance(wait_s)
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", quantity)]


def test_qty_from_before_a_reboot_is_not_used(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    plant.clock.reboot("boot-2")
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-1))]


def test_qty_is_per_station(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    assert issued(plant, accepted(plant.scan(SCRAP, "R-GASKET"))) == [("R-GASKET", D(-1))]
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-3))]


def test_qty_is_shared_by_every_scanner_of_the_station(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3", scanner="pack-1-hid"))
    outcome = accepted(plant.scan(SHIP, "R-GASKET", scanner="cli"))
    assert issued(plant, outcome) == [("R-GASKET", D(-3))]


def test_qty_is_cleared_by_void(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "R-GASKET"))
    accepted(plant.scan(SHIP, "QTY:4"))
    accepted(plant.scan(SHIP, "VOID"))
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-1))]


def test_pending_qty_survives_a_restart(plant: ShopFloor, db_path: Path) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    plant.clock.advance(5)
    engine = open_database(db_path)
    try:
        restarted = ShopFloor(make_service(engine), plant.clock, plant.workdir)
        outcome = accepted(restarted.scan(SHIP, "R-GASKET"))
        assert issued(restarted, outcome) == [("R-GASKET", D(-3))]
    finally:
        engine.dispose()
    # used up, for the old process too
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-1))]


def test_a_duplicate_read_does_not_use_up_the_qty(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    data = b"R-GASKET"
    read = ScanInput(scanner="pack-1-hid", station=SHIP, data=data, at=plant.clock.moment())
    [outcome] = plant.service.process_scans([PendingScan(read, decode(data), duplicate=True)])
    assert outcome.status == "duplicate"
    assert plant.on_hand("R-GASKET") == D(100)
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-3))]


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
def test_bad_qty_is_rejected(plant: ShopFloor, code: str, reason: str) -> None:
    rejected(plant.scan(SHIP, code), reason)
    assert issued(plant, accepted(plant.scan(SHIP, "R-GASKET"))) == [("R-GASKET", D(-1))]


def test_qty_up_to_the_station_maximum_is_accepted(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:10000"))
    plant.service.update_stations([Station(SHIP, StationMode.SHIP, max_qty=D(50))])
    rejected(plant.scan(SHIP, "QTY:51"), "qty-out-of-range")
    accepted(plant.scan(SHIP, "QTY:50"))


# --- RSN and scrap reasons -------------------------------------------------------------


def test_rsn_sets_the_reason_of_the_next_scrap_only(plant: ShopFloor) -> None:
    accepted(plant.scan(SCRAP, "RSN:DAMAGED"))
    first = accepted(plant.scan(SCRAP, "R-HOUSING"))
    second = accepted(plant.scan(SCRAP, "R-HOUSING"))
    assert [scan_txn(plant, o).reason for o in (first, second)] == ["DAMAGED", "unspecified"]
    reasons = [e["reason"] for e in plant.events() if e["type"] == "scrap"]
    assert reasons == ["DAMAGED", "unspecified"]


def test_rsn_and_qty_together_apply_to_one_scrap(plant: ShopFloor) -> None:
    accepted(plant.scan(SCRAP, "QTY:2"))
    accepted(plant.scan(SCRAP, "RSN:TEST"))
    outcome = accepted(plant.scan(SCRAP, "R-HOUSING"))
    assert issued(plant, outcome) == [("R-HOUSING", D(-2))]
    assert scan_txn(plant, outcome).reason == "TEST"


def test_rsn_expires_like_qty(plant: ShopFloor) -> None:
    accepted(plant.scan(SCRAP, "RSN:DAMAGED"))
    plant.clock.advance(31)
    assert scan_txn(plant, accepted(plant.scan(SCRAP, "R-HOUSING"))).reason == "unspecified"


def test_a_new_rsn_replaces_the_pending_one(plant: ShopFloor) -> None:
    accepted(plant.scan(SCRAP, "RSN:DAMAGED"))
    accepted(plant.scan(SCRAP, "RSN:TEST"))
    assert scan_txn(plant, accepted(plant.scan(SCRAP, "R-HOUSING"))).reason == "TEST"


def test_rsn_is_rejected_at_a_ship_station(plant: ShopFloor) -> None:
    rejected(plant.scan(SHIP, "RSN:DAMAGED"), "reason-not-scrap-station")


def test_scrap_reasons_allow_list_and_station_default_reason(plant: ShopFloor) -> None:
    plant.service.update_stations([
        *STATIONS,
        Station(
            "SCRAP-2",
            StationMode.SCRAP,
            default_reason="NOT-GIVEN",
            scrap_reasons=("DAMAGED", "WRONG-PART"),
        ),
    ])  # fmt: skip
    rejected(plant.scan("SCRAP-2", "RSN:TEST"), "unknown-reason")
    assert scan_txn(plant, accepted(plant.scan("SCRAP-2", "R-HOUSING"))).reason == "NOT-GIVEN"
    accepted(plant.scan("SCRAP-2", "RSN:WRONG-PART"))
    assert scan_txn(plant, accepted(plant.scan("SCRAP-2", "R-HOUSING"))).reason == "WRONG-PART"
    # the allow-list is the station's own: SCRAP-1 has none
    accepted(plant.scan(SCRAP, "RSN:TEST"))


# --- VOID ----------------------------------------------------------------------------


def test_void_writes_the_exact_negation_and_restores_balances(plant: ShopFloor) -> None:
    before = plant.balances()
    accepted(plant.scan(SHIP, "QTY:3"))
    shipped = accepted(plant.scan(SHIP, "FG-100"))
    original = scan_txn(plant, shipped)
    void = accepted(plant.scan(SHIP, "VOID"))
    reversal = scan_txn(plant, void)
    assert reversal.kind == "void"
    assert plant.ledger(reversal.id) == [(p, -q) for p, q in plant.ledger(original.id)]
    assert plant.balances() == before
    assert next(row for row in plant.transactions() if row.id == original.id).voided_by == (
        reversal.id
    )
    [event] = [e for e in plant.events() if e["type"] == "void"]
    assert event["event_id"] == void.event_id
    assert event["voided_event_id"] == shipped.event_id
    # the reversal puts back, as positive quantities, what the shipment issued
    assert event["lines"] == [
        {"part": p, "quantity": q, "uom": "EA"} for p, q in times(ONE_FG, "-3")
    ]


def test_void_reverses_the_recorded_rows_not_a_new_explosion(plant: ShopFloor) -> None:
    original = scan_txn(plant, accepted(plant.scan(SHIP, "FG-100")))
    plant.load(ITEMS, "parent,component,qty_per,scrap_pct\nKIT-1,R-SCREW,9,0\n")
    reversal = scan_txn(plant, accepted(plant.scan(SHIP, "VOID")))
    assert plant.ledger(reversal.id) == [(p, -q) for p, q in ONE_FG]
    assert original.bom_hash is not None


def test_void_of_a_build_takes_back_receipt_and_components(plant: ShopFloor) -> None:
    before = plant.balances()
    accepted(plant.scan(BUILD, "SUB-200"))
    accepted(plant.scan(BUILD, "VOID"))
    after = plant.balances()
    assert after.pop("R-WIRE") == ZERO  # a balance row now exists, at exactly zero
    assert after == before


def test_void_of_a_scrap(plant: ShopFloor) -> None:
    accepted(plant.scan(SCRAP, "R-HOUSING"))
    accepted(plant.scan(SCRAP, "VOID"))
    assert plant.on_hand("R-HOUSING") == D(50)


def test_a_second_void_is_rejected_and_never_steps_further_back(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "R-GASKET"))
    accepted(plant.scan(SHIP, "R-HOUSING"))
    accepted(plant.scan(SHIP, "VOID"))
    rejected(plant.scan(SHIP, "VOID"), "already-voided")
    assert plant.on_hand("R-GASKET") == D(99)
    assert plant.on_hand("R-HOUSING") == D(50)


def test_void_with_nothing_to_void_is_rejected(plant: ShopFloor) -> None:
    rejected(plant.scan(SHIP, "VOID"), "nothing-to-void")


def test_void_applies_to_the_station_from_any_of_its_scanners(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "R-GASKET", scanner="pack-1-hid"))
    rejected(plant.scan(SCRAP, "VOID"), "nothing-to-void")  # another station's
    accepted(plant.scan(SHIP, "VOID", scanner="cli"))
    assert plant.on_hand("R-GASKET") == D(100)


def test_void_skips_rejected_scans_and_control_codes(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "R-GASKET"))
    rejected(plant.scan(SHIP, "NO-SUCH-PART"), "unknown-part")
    accepted(plant.scan(SHIP, "QTY:7"))
    accepted(plant.scan(SHIP, "VOID"))
    assert plant.on_hand("R-GASKET") == D(100)


@pytest.mark.parametrize(("wait_s", "accepted_"), [(599, True), (601, False)])
def test_void_window(plant: ShopFloor, wait_s: float, accepted_: bool) -> None:
    accepted(plant.scan(SHIP, "R-GASKET"))
    plant.clock.advance(wait_s)
    outcome = plant.scan(SHIP, "VOID")
    if accepted_:
        accepted(outcome)
        assert plant.on_hand("R-GASKET") == D(100)
    else:
        rejected(outcome, "void-window-expired")
        assert plant.on_hand("R-GASKET") == D(99)


def test_void_window_is_per_station_and_does_not_cross_a_reboot(plant: ShopFloor) -> None:
    plant.service.update_stations([Station(SHIP, StationMode.SHIP, void_window_s=60)])
    accepted(plant.scan(SHIP, "R-GASKET"))
    plant.clock.advance(61)
    rejected(plant.scan(SHIP, "VOID"), "void-window-expired")
    accepted(plant.scan(SHIP, "R-GASKET"))
    plant.clock.reboot("boot-2")
    rejected(plant.scan(SHIP, "VOID"), "void-window-expired")


def test_void_does_not_cancel_a_reorder(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:41"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 50 -> 9, at or below the point 10
    [reorder] = plant.reorders()
    accepted(plant.scan(SHIP, "VOID"))
    assert plant.on_hand("R-HOUSING") == D(50)
    assert [(row.id, row.open) for row in plant.reorders()] == [(reorder.id, True)]


# --- GTIN and GS1 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "part"),
    [
        ("CUST-77", "FG-100"),  # customer part number alias
        ("9501101530003", "FG-100"),  # GTIN-13 digits, stored as GTIN-14
        (FG_GTIN, "FG-100"),
        ("036000291452", "R-WIRE"),  # UPC-A (GTIN-12)
        ("]C1" + "01" + HOUSING_GTIN, "R-HOUSING"),  # GS1-128 element string
        ("(01)" + HOUSING_GTIN, "R-HOUSING"),  # human-readable form
        ("\x1d01" + HOUSING_GTIN + "10LOT-7", "R-HOUSING"),  # leading GS, with a batch
    ],
)
def test_codes_resolve_through_aliases_and_gtins(plant: ShopFloor, code: str, part: str) -> None:
    outcome = accepted(plant.scan(SCRAP, code))
    assert scan_txn(plant, outcome).part == part


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("9501101530004", "unknown-part"),  # bad check digit: not treated as a GTIN
        ("(01)09501101530004", "gs1-check-digit"),
        ("(01)05012345678900", "unknown-gtin"),
        ("fg-100", "unknown-part"),  # part numbers are case-sensitive
    ],
)
def test_bad_or_unknown_gtins_are_rejected(plant: ShopFloor, code: str, reason: str) -> None:
    before = plant.balances()
    rejected(plant.scan(SHIP, code), reason)
    assert plant.balances() == before


def test_a_batch_and_serial_are_journaled(plant: ShopFloor) -> None:
    outcome = accepted(plant.scan(SHIP, f"(01){FG_GTIN}(10)LOT-7(21)SN-1"))
    [row] = [row for row in plant.scans() if row.id == outcome.scan_id]
    assert (row.gtin, row.serial, row.batch) == (FG_GTIN, "SN-1", "LOT-7")


def test_a_gs1_serial_ships_once(plant: ShopFloor) -> None:
    code = f"]C101{FG_GTIN}21SN-1"
    accepted(plant.scan(SHIP, code))
    before = plant.balances()
    rejected(plant.scan(SHIP, code), "serial-already-shipped")
    rejected(plant.scan(SHIP, f"(01){FG_GTIN}(21)SN-1"), "serial-already-shipped")
    assert plant.balances() == before
    accepted(plant.scan(SHIP, f"(01){FG_GTIN}(21)SN-2"))


def test_void_frees_a_shipped_serial(plant: ShopFloor) -> None:
    code = f"(01){FG_GTIN}(21)SN-1"
    accepted(plant.scan(SHIP, code))
    accepted(plant.scan(SHIP, "VOID"))
    accepted(plant.scan(SHIP, code))
    rejected(plant.scan(SHIP, code), "serial-already-shipped")


@pytest.mark.parametrize(
    ("codes", "reason"),
    [
        (["QTY:2", f"(01){FG_GTIN}(21)SN-1"], "serialized-quantity"),
        ([f"(01){FG_GTIN}(21)SN-1(30)2"], "serialized-quantity"),
        (["QTY:0.5", f"(01){FG_GTIN}(21)SN-1"], "serialized-quantity"),
    ],
)
def test_a_serialized_scan_with_a_quantity_other_than_one_is_rejected(
    plant: ShopFloor, codes: list[str], reason: str
) -> None:
    *controls, code = codes
    for control in controls:
        accepted(plant.scan(SHIP, control))
    before = plant.balances()
    rejected(plant.scan(SHIP, code), reason)
    assert plant.balances() == before
    assert plant.rows(schema.shipped_serials) == []


def test_quantity_is_qty_times_the_gs1_count(plant: ShopFloor) -> None:
    code = f"(01){HOUSING_GTIN}(30)12"
    assert issued(plant, accepted(plant.scan(SCRAP, code))) == [("R-HOUSING", D(-12))]
    accepted(plant.scan(SCRAP, "QTY:3"))
    assert issued(plant, accepted(plant.scan(SCRAP, code))) == [("R-HOUSING", D(-36))]


# --- stock rules: low-stock and reorders --------------------------------------------


def test_events_of_one_transaction_come_in_order_own_low_stock_reorder(plant: ShopFloor) -> None:
    mark = plant.last_seq()
    accepted(plant.scan(SHIP, "QTY:41"))
    shipped = accepted(plant.scan(SHIP, "FG-100"))
    events = plant.events(mark)
    # R-HOUSING 50 -> 9 (point 10: low-stock and a reorder of 25);
    # SUB-200 20 -> -21 (negative); R-SCREW 1000 -> 836 and R-GASKET stay quiet.
    assert [(e["type"], e.get("part")) for e in events] == [
        ("backflush", "FG-100"),
        ("low-stock", "R-HOUSING"),
        ("low-stock", "SUB-200"),
        ("reorder", "R-HOUSING"),
    ]
    assert [e["seq"] for e in events] == list(range(mark + 1, mark + 5))
    backflush, housing_low, sub_low, reorder = events
    assert backflush["event_id"] == shipped.event_id
    assert {k: housing_low[k] for k in ("part", "on_hand", "reorder_point", "negative")} == {
        "part": "R-HOUSING",
        "on_hand": 9,
        "reorder_point": 10,
        "negative": False,
    }
    assert (sub_low["on_hand"], sub_low["reorder_point"], sub_low["negative"]) == (-21, 2, True)
    [row] = plant.reorders()
    assert (row.part, row.ordered, row.received, row.open) == ("R-HOUSING", "25", "0", True)
    assert {k: reorder[k] for k in ("reorder_id", "quantity", "on_hand", "on_order")} == {
        "reorder_id": row.id,
        "quantity": 25,
        "on_hand": 9,
        "on_order": 0,
    }


def test_a_reorder_is_not_repeated_while_position_stays_above_the_point(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:41"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 9 on hand + 25 on order = 34
    accepted(plant.scan(SHIP, "QTY:20"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # -11 + 25 = 14: still above 10
    assert len(plant.reorders()) == 1
    accepted(plant.scan(SHIP, "QTY:5"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # -16 + 25 = 9: a second reorder
    second = plant.reorders()[1]
    assert (second.ordered, second.open) == ("25", True)


def test_a_reorder_is_repeated_lots_until_position_clears_the_point(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:90"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 50 -> -40: needs 75 to clear 10
    [row] = plant.reorders()
    assert row.ordered == "75"


def test_max_qty_with_order_multiple(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:901"))
    accepted(plant.scan(SHIP, "R-SCREW"))  # 1000 -> 99; up to 500 is 401, rounded to 450
    [row] = plant.reorders()
    assert (row.part, row.ordered) == ("R-SCREW", "450")


def test_at_most_one_low_stock_per_part_per_transaction(plant: ShopFloor) -> None:
    mark = plant.last_seq()
    accepted(plant.scan(SHIP, "QTY:60"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 50 -> -10: crosses the point and zero
    lows = [e for e in plant.events(mark) if e["type"] == "low-stock"]
    assert [(e["part"], e["on_hand"], e["negative"]) for e in lows] == [("R-HOUSING", -10, True)]


def test_negative_fires_when_disarmed_and_for_items_without_reorder_point(
    plant: ShopFloor,
) -> None:
    accepted(plant.scan(SHIP, "QTY:45"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 50 -> 5: low-stock, disarmed
    accepted(plant.scan(SHIP, "QTY:2"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 5 -> 3: silent while disarmed
    accepted(plant.scan(SHIP, "QTY:4"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 3 -> -1: negative fires anyway
    accepted(plant.scan(SHIP, "R-HOUSING"))  # -1 -> -2: already negative, silent
    accepted(plant.scan(SHIP, "QTY:100"))
    accepted(plant.scan(SHIP, "R-GASKET"))  # 100 -> 0: no reorder point, not negative
    accepted(plant.scan(SHIP, "R-GASKET"))  # 0 -> -1: negative
    lows = [
        (e["part"], e["on_hand"], e["negative"]) for e in plant.events() if e["type"] == "low-stock"
    ]
    assert lows == [
        ("R-HOUSING", 5, False),
        ("R-HOUSING", -1, True),
        ("R-GASKET", -1, True),
    ]
    gasket = next(e for e in plant.events() if e["type"] == "low-stock" and e["part"] == "R-GASKET")
    assert gasket["reorder_point"] is None


def test_low_stock_re_arms_above_the_point(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:45"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 50 -> 5: fires
    plant.count("R-HOUSING", "10")  # at the point: still disarmed
    plant.count("R-HOUSING", "11")  # above: re-armed
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 11 -> 10: fires again
    lows = [e["on_hand"] for e in plant.events() if e["type"] == "low-stock"]
    assert lows == [5, 10]


def test_an_opening_balance_at_or_below_the_point_fires_once(floor: ShopFloor) -> None:
    floor.load(ITEMS, BOM)
    floor.opening(**{"R-HOUSING": "4"})
    accepted(floor.scan(SHIP, "R-HOUSING"))
    lows = [(e["part"], e["on_hand"]) for e in floor.events() if e["type"] == "low-stock"]
    assert lows == [("R-HOUSING", 4)]
    opening = next(e for e in floor.events() if e["type"] == "count")
    assert opening["seq"] < next(e["seq"] for e in floor.events() if e["type"] == "low-stock")


# --- receipts, cancel, counts -----------------------------------------------------


def make_two_reorders(plant: ShopFloor) -> tuple[int, int]:
    accepted(plant.scan(SHIP, "QTY:41"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # 9 + 0: reorder of 25
    accepted(plant.scan(SHIP, "QTY:25"))
    accepted(plant.scan(SHIP, "R-HOUSING"))  # -16 + 25 = 9: reorder of 25
    first, second = plant.reorders()
    return first.id, second.id


def test_a_receipt_against_one_reorder(plant: ShopFloor) -> None:
    first, second = make_two_reorders(plant)
    mark = plant.last_seq()
    plant.receive("R-HOUSING", "10", reorder_id=second)
    [receipt] = plant.events(mark)
    assert (receipt["type"], receipt["reorder_id"], receipt["quantity"]) == ("receipt", second, 10)
    assert (receipt["on_hand"], receipt["on_order"]) == (-6, 40)
    assert [(r.id, r.received, r.open) for r in plant.reorders()] == [
        (first, "0", True),
        (second, "10", True),
    ]
    mark = plant.last_seq()
    plant.receive("R-HOUSING", "15", reorder_id=second)
    receipt, closed = plant.events(mark)
    assert (closed["type"], closed["reorder_id"], closed["part"], closed["reason"]) == (
        "reorder-closed", second, "R-HOUSING", "received",
    )  # fmt: skip
    assert receipt["on_order"] == 25
    assert [(r.id, r.received, r.open, r.close_reason) for r in plant.reorders()] == [
        (first, "0", True, None),
        (second, "25", False, "received"),
    ]


def test_a_receipt_without_reorder_fills_open_reorders_oldest_first(plant: ShopFloor) -> None:
    first, second = make_two_reorders(plant)
    mark = plant.last_seq()
    plant.receive("R-HOUSING", "30")
    events = plant.events(mark)
    assert [(e["type"], e.get("reorder_id")) for e in events] == [
        ("receipt", None),  # it counted against two reorders
        ("reorder-closed", first),
    ]
    assert events[0]["on_order"] == 20
    assert [(r.id, r.received, r.open) for r in plant.reorders()] == [
        (first, "25", False),
        (second, "5", True),
    ]
    plant.receive("R-HOUSING", "100")  # more than is on order: the rest is just stock
    assert [(r.received, r.open) for r in plant.reorders()] == [("25", False), ("25", False)]
    assert plant.on_hand("R-HOUSING") == D(114)


def test_a_receipt_is_checked(plant: ShopFloor) -> None:
    first, _ = make_two_reorders(plant)
    for part, quantity, reorder_id, reason in [
        ("R-HOUSING", "0", None, "bad-quantity"),
        ("R-HOUSING", "-5", None, "bad-quantity"),
        ("NO-SUCH-PART", "5", None, "unknown-part"),
        ("KIT-1", "5", None, "phantom-part"),
        ("R-SCREW", "5", first, "unknown-reorder"),  # that reorder is another part's
        ("R-HOUSING", "5", 999, "unknown-reorder"),
    ]:
        with pytest.raises(Rejection) as excinfo:
            plant.receive(part, quantity, reorder_id)
        assert excinfo.value.reason == reason, (part, quantity, reorder_id)


def test_cancel_closes_one_reorder(plant: ShopFloor) -> None:
    first, second = make_two_reorders(plant)
    mark = plant.last_seq()
    event_id = plant.cancel_reorder(first)
    [closed] = plant.events(mark)
    assert closed["event_id"] == event_id
    assert (closed["type"], closed["reorder_id"], closed["reason"]) == (
        "reorder-closed", first, "cancelled",
    )  # fmt: skip
    assert [(r.id, r.open, r.close_reason) for r in plant.reorders()] == [
        (first, False, "cancelled"),
        (second, True, None),
    ]
    with pytest.raises(Rejection, match="already closed"):
        plant.cancel_reorder(first)
    with pytest.raises(Rejection, match="already closed"):
        plant.receive("R-HOUSING", "5", reorder_id=first)
    with pytest.raises(Rejection):
        plant.cancel_reorder(999)
    # the stock topic shows the smaller on_order
    assert plant.stock_message("R-HOUSING")["on_order"] == 25


def test_a_count_sets_on_hand_and_the_ledger_records_the_variance(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:2.5"))
    accepted(plant.scan(SHIP, "R-GASKET"))  # 97.5 by the books
    mark = plant.last_seq()
    posted = plant.count("R-GASKET", "95.25")
    assert plant.on_hand("R-GASKET") == D("95.25")
    assert plant.ledger(posted.txn_id) == [("R-GASKET", D("-2.25"))]
    [row] = [row for row in plant.rows(schema.ledger) if row.txn_id == posted.txn_id]
    assert row.kind == "count"
    event, variance = plant.events(mark)
    assert {k: event[k] for k in ("type", "part", "counted", "previous_on_hand", "variance")} == {
        "type": "count",
        "part": "R-GASKET",
        "counted": D("95.25"),
        "previous_on_hand": D("97.5"),
        "variance": D("-2.25"),
    }
    # 2.25 short on the 2.5 used since the opening: -90 %, far beyond 5 %.
    assert (variance["type"], variance["consumed"], variance["variance_pct"]) == (
        "variance", D("2.5"), -90,
    )  # fmt: skip
    [counted] = plant.rows(schema.counts)
    assert (counted.book, counted.counted, counted.used_backflush) == ("97.5", "95.25", "2.5")
    with pytest.raises(Rejection):
        plant.count("KIT-1", "1")


def test_a_count_taken_earlier_is_compared_with_the_book_as_it_stood_then(
    plant: ShopFloor,
) -> None:
    accepted(plant.scan(SHIP, "R-GASKET"))  # 99 by the books
    sheet_filled = plant.clock.moment().wall
    plant.clock.advance(600)
    accepted(plant.scan(SHIP, "QTY:3"))
    accepted(plant.scan(SHIP, "R-GASKET"))  # 96 by the books, after the count sheet
    plant.clock.advance(600)
    mark = plant.last_seq()
    # 97 were on the shelf when the sheet was filled, where the books said 99.
    posted = plant.run(lambda inv, at: inv.count("R-GASKET", D(97), at, counted_at=sheet_filled))
    assert plant.ledger(posted.txn_id) == [("R-GASKET", D(-2))]
    assert plant.on_hand("R-GASKET") == D(94)  # the 3 issued since stay issued
    event, variance = plant.events(mark)
    assert (event["counted"], event["previous_on_hand"], event["variance"]) == (D(97), D(99), D(-2))
    assert event["counted_at"] == rfc3339(sheet_filled)
    # Its use is the 1 shipped before the sheet was filled, not the 3 after.
    assert (variance["consumed"], variance["counted_at"]) == (1, rfc3339(sheet_filled))
    later = plant.clock.moment().wall + timedelta(minutes=5)
    with pytest.raises(Rejection, match="later than now"):
        plant.run(lambda inv, at: inv.count("R-GASKET", D(1), at, counted_at=later))


# --- the outbox -------------------------------------------------------------------

REQUIRED_FIELDS = {
    "backflush": {"part", "quantity", "uom", "lines", "bom_hash", "station", "scanner", "scan_id"},
    "scrap": {"part", "quantity", "uom", "lines", "bom_hash", "station", "scanner", "scan_id",
              "reason"},
    "build": {"part", "quantity", "uom", "lines", "bom_hash", "station", "scanner", "scan_id"},
    "void": {"voided_event_id", "uom", "lines"},
    "receipt": {"part", "quantity", "uom", "reorder_id", "on_hand", "on_order"},
    "count": {"part", "counted", "previous_on_hand", "variance", "uom"},
    "low-stock": {"part", "on_hand", "reorder_point", "negative", "uom"},
    "reorder": {"reorder_id", "part", "quantity", "on_hand", "on_order", "reorder_point", "uom"},
    "reorder-closed": {"reorder_id", "part", "reason"},
    "scan-rejected": {"scan_id", "code", "reason", "station", "scanner"},
    "variance": {"part", "counted", "book", "variance", "uom", "consumed", "variance_pct",
                 "tolerance_pct", "counted_at"},
}  # fmt: skip
COMMON_FIELDS = {"event_id", "type", "schema", "occurred_at", "seq", "boot", "site", "node"}
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def test_every_event_type_carries_its_fields_and_seq_has_no_gaps(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:41"))
    accepted(plant.scan(SHIP, "FG-100"))  # backflush, low-stock, reorder
    accepted(plant.scan(SCRAP, "RSN:DAMAGED"))
    accepted(plant.scan(SCRAP, "KIT-1"))  # scrap
    accepted(plant.scan(BUILD, "SUB-200"))  # build
    accepted(plant.scan(SHIP, "R-GASKET"))
    plant.clock.advance(2.5)
    accepted(plant.scan(SHIP, "VOID"))  # void
    rejected(plant.scan(SHIP, "NOPE"), "unknown-part")  # scan-rejected
    plant.receive("R-HOUSING", "25")  # receipt, reorder-closed
    plant.count("R-SCREW", "800")  # count, variance
    events = plant.events()
    assert {e["type"] for e in events} == set(REQUIRED_FIELDS)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["event_id"] for e in events}) == len(events)
    for event in events:
        missing = (COMMON_FIELDS | REQUIRED_FIELDS[event["type"]]) - set(event)
        assert not missing, (event["type"], missing)
        assert (event["site"], event["node"], event["schema"]) == (SITE, NODE, EVENT_SCHEMA)
        assert RFC3339_UTC.fullmatch(event["occurred_at"]), event["occurred_at"]
        assert isinstance(event["boot"], int)
        for line in event.get("lines", []):
            assert set(line) == {"part", "quantity", "uom"}
            assert line["uom"] == "EA"
        if "part" in event and event["type"] != "reorder-closed":
            assert event["uom"] == "EA", event
    rejection = next(e for e in events if e["type"] == "scan-rejected")
    assert (rejection["station"], rejection["scanner"]) == (SHIP, "cli")
    void = next(e for e in events if e["type"] == "void")
    assert void["occurred_at"] == "2026-03-02T06:00:02.500Z"
    with plant.engine.connect() as connection:
        rows = list(connection.execute(select(schema.outbox).order_by(schema.outbox.c.seq)))
        counter = connection.execute(
            select(schema.counters.c.value).where(schema.counters.c.name == "seq")
        ).scalar_one()
    assert counter == len(events)
    for row in rows:
        assert row.topic == f"{TOPIC_PREFIX}/event/{row.type}"
        assert row.published_at is None


@pytest.fixture
def far_east_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The box's local time zone is UTC+05:30; the database must still hold UTC."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_east_local_time")
def test_stored_times_are_utc_whatever_the_local_time_zone(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:41"))
    accepted(plant.scan(SHIP, "FG-100"))  # a transaction, events, a reorder
    times_stored = [
        *(row.at for row in plant.transactions()),
        *(row.at for row in plant.scans()),
        *(row.created_at for row in plant.rows(schema.outbox)),
        *(row.created_at for row in plant.reorders()),
    ]
    assert times_stored
    for text in times_stored:
        assert RFC3339_UTC.fullmatch(text), text


@pytest.mark.usefixtures("far_east_local_time")
def test_a_stored_structure_is_dated_in_utc(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "FG-100"))
    [structure] = plant.rows(schema.bom_structures)
    assert RFC3339_UTC.fullmatch(structure.created_at), structure.created_at


def test_quantities_are_json_numbers_written_exactly(plant: ShopFloor) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    accepted(plant.scan(SHIP, "FG-100"))
    [payload] = [row.payload for row in plant.rows(schema.outbox) if row.type == "backflush"]
    assert '"quantity":3,' in payload
    assert '{"part":"R-GASKET","quantity":1.65,"uom":"EA"}' in payload


def test_stock_snapshots_are_kept_per_touched_part(plant: ShopFloor) -> None:
    plant.load(
        "part,reorder_point\nR/ODD PART,\n",
        "parent,component,qty_per,scrap_pct\n",
    )
    accepted(plant.scan(SHIP, "QTY:41"))
    accepted(plant.scan(SHIP, "R-HOUSING"))
    accepted(plant.scan(SHIP, "R/ODD PART"))
    snapshots = plant.stock_messages()
    housing = exactjson.loads(snapshots["R-HOUSING"].payload)
    assert {k: housing[k] for k in ("part", "on_hand", "on_order", "reorder_point")} == {
        "part": "R-HOUSING",
        "on_hand": 9,
        "on_order": 25,
        "reorder_point": 10,
    }
    odd = snapshots["R/ODD PART"]
    assert odd.topic == f"{TOPIC_PREFIX}/stock/{urllib.parse.quote('R/ODD PART', safe='')}"
    assert odd.topic.endswith("/stock/R%2FODD%20PART")
    assert exactjson.loads(odd.payload)["on_hand"] == -1


# --- failures --------------------------------------------------------------------


def test_a_failure_mid_scan_leaves_only_the_journal_row(
    plant: ShopFloor, clock: SteppingClock
) -> None:
    accepted(plant.scan(SHIP, "QTY:3"))
    before = everything_but_scans(plant.engine)
    scans_before = len(plant.scans())
    failing = ShopFloor(FailingLedgerService(plant.engine, fail_on_call=2), clock, plant.workdir)
    outcome = failing.scan(SHIP, "FG-100")  # the second of its four ledger rows fails
    assert (outcome.status, outcome.reason) == ("rejected", "internal-error")
    assert everything_but_scans(plant.engine) == before  # QTY still pending, too
    scans = plant.scans()
    assert len(scans) == scans_before + 1
    assert (scans[-1].id, scans[-1].code, scans[-1].status, scans[-1].reason) == (
        outcome.scan_id, "FG-100", "rejected", "internal-error",
    )  # fmt: skip
    # the pending QTY is still there for the next good scan, and seq goes on without a gap
    shipped = accepted(plant.scan(SHIP, "FG-100"))
    assert issued(plant, shipped) == times(ONE_FG, "3")
    assert [e["seq"] for e in plant.events()] == list(range(1, plant.last_seq() + 1))


def test_a_failing_scan_in_a_group_commit_rolls_back_alone(
    plant: ShopFloor, clock: SteppingClock
) -> None:
    failing = ShopFloor(FailingLedgerService(plant.engine, fail_on_call=3), clock, plant.workdir)
    mark = plant.last_seq()
    first, broken, last = failing.scan_batch([
        (SHIP, "R-HOUSING"),  # ledger write 1
        (SHIP, "FG-100"),  # writes 2 and 3: fails after one row is written
        (SHIP, "R-GASKET"),  # write 4
    ])  # fmt: skip
    assert (first.status, broken.status, last.status) == ("accepted", "rejected", "accepted")
    assert broken.reason == "internal-error"
    assert plant.on_hand("R-HOUSING") == D(49)
    assert plant.on_hand("R-GASKET") == D(99)
    assert plant.on_hand("R-SCREW") == D(1000)
    assert plant.on_hand("SUB-200") == D(20)
    assert [t.scan_id for t in plant.transactions() if t.kind == "backflush"] == [
        first.scan_id,
        last.scan_id,
    ]
    assert [(e["type"], e["seq"]) for e in plant.events(mark)] == [
        ("backflush", mark + 1),
        ("backflush", mark + 2),
    ]


def test_a_failing_command_writes_nothing(plant: ShopFloor, clock: SteppingClock) -> None:
    make_two_reorders(plant)
    before = everything_but_scans(plant.engine)
    failing = ShopFloor(FailingLedgerService(plant.engine, fail_on_call=1), clock, plant.workdir)
    with pytest.raises(LedgerFailure):
        failing.receive("R-HOUSING", "30")
    assert everything_but_scans(plant.engine) == before
