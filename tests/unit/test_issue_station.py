"""Issue stations on the in-memory store (SPEC §13, unrecorded usage): a part
scan issues the part with the reason of a required RSN:, a phantom exploded as
a shipment takes it; VOID reverses an issue.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.domain.model import Station, StationMode
from tests.shop_floor import STATIONS, SteppingClock
from tests.unit.pump_catalog import ONE_FG, pump_store, times
from tests.unit.station_scans import StationScans, accepted, rejected

D = Decimal
LAB = "LAB-1"
LISTED = "LAB-2"


@pytest.fixture
def floor(clock: SteppingClock) -> StationScans:
    stations = (
        *STATIONS,
        Station(LAB, StationMode.ISSUE),
        Station(LISTED, StationMode.ISSUE, issue_reasons=("TEST", "KAIZEN")),
    )
    return StationScans(pump_store(clock.moment()), clock, stations)


def test_an_issued_phantom_is_exploded_as_a_shipment_takes_it(floor: StationScans) -> None:
    accepted(floor.scan(LAB, "RSN:ENGINEERING"))
    accepted(floor.scan(LAB, "QTY:2"))
    issued = accepted(floor.scan(LAB, "FG-100"))
    assert issued.message == "issued 2 x FG-100"
    assert floor.issued(issued) == times(ONE_FG, "2")
    assert floor.transaction(issued).kind == "issue"
    [event] = [e for e in floor.store.events() if e["type"] == "issue"]
    assert (event["event_id"], event["part"], event["quantity"]) == (issued.event_id, "FG-100", 2)
    assert (event["reason"], event["station"]) == ("ENGINEERING", LAB)


def test_a_purchased_part_is_issued_itself(floor: StationScans) -> None:
    accepted(floor.scan(LAB, "RSN:TEST"))
    issued = accepted(floor.scan(LAB, "R-HOUSING"))
    assert floor.issued(issued) == [("R-HOUSING", D(-1))]
    assert floor.store.balances()["R-HOUSING"] == D(49)


def test_a_part_scan_without_a_reason_is_rejected_and_told(floor: StationScans) -> None:
    before = floor.store.balances()
    outcome = rejected(floor.scan(LAB, "R-HOUSING"), "reason-required")
    assert "scan RSN:" in outcome.message
    assert floor.store.balances() == before
    [event] = [e for e in floor.store.events() if e["type"] == "scan-rejected"]
    assert event["reason"] == "reason-required"


def test_the_reason_is_used_by_one_part_scan_only(floor: StationScans) -> None:
    accepted(floor.scan(LAB, "RSN:TEST"))
    accepted(floor.scan(LAB, "R-HOUSING"))
    rejected(floor.scan(LAB, "R-SCREW"), "reason-required")


def test_the_allow_list_refuses_other_reasons(floor: StationScans) -> None:
    rejected(floor.scan(LISTED, "RSN:LUNCH"), "unknown-reason")
    rejected(floor.scan(LISTED, "R-HOUSING"), "reason-required")
    accepted(floor.scan(LISTED, "RSN:KAIZEN"))
    accepted(floor.scan(LISTED, "R-HOUSING"))


def test_void_reverses_an_issue(floor: StationScans) -> None:
    before = floor.store.balances()
    accepted(floor.scan(LAB, "RSN:TEST"))
    issued = accepted(floor.scan(LAB, "FG-100"))
    void = accepted(floor.scan(LAB, "VOID"))
    assert floor.store.balances() == before
    [event] = [e for e in floor.store.events() if e["type"] == "void"]
    assert (event["voided_event_id"], event["voided_type"]) == (issued.event_id, "issue")
    assert floor.transaction(void).kind == "void"
