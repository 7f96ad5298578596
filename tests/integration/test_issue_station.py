"""An issue station on a real SQLite file (SPEC §13, unrecorded usage): the
issue of a phantom, its reason and event, a rejected scan without a reason,
and VOID of an issue, through the store's own statements.
"""

from __future__ import annotations

from decimal import Decimal

from edge.domain.model import Station, StationMode
from tests.integration.test_inventory import accepted, plant, rejected, scan_txn
from tests.shop_floor import STATIONS, ShopFloor

D = Decimal
__all__ = ["plant"]  # the fixture, shared with test_inventory.py
LAB = "LAB-1"


def test_an_issue_station_issues_with_a_reason_and_void_takes_it_back(plant: ShopFloor) -> None:
    plant.service.update_stations([
        *STATIONS, Station(LAB, StationMode.ISSUE, issue_reasons=("TEST", "KAIZEN")),
    ])  # fmt: skip
    before = plant.balances()
    rejected(plant.scan(LAB, "FG-100"), "reason-required")
    rejected(plant.scan(LAB, "RSN:LUNCH"), "unknown-reason")
    assert plant.balances() == before

    accepted(plant.scan(LAB, "RSN:KAIZEN"))
    issued = accepted(plant.scan(LAB, "FG-100"))
    txn = scan_txn(plant, issued)
    assert (txn.kind, txn.reason, txn.station) == ("issue", "KAIZEN", LAB)
    # FG-100 is a phantom: its components leave stock, as a shipment would take them.
    assert sorted(plant.ledger(txn.id)) == [
        ("R-GASKET", D("-0.55")), ("R-HOUSING", D(-1)), ("R-SCREW", D(-4)), ("SUB-200", D(-1)),
    ]  # fmt: skip
    [event] = [e for e in plant.events() if e["type"] == "issue"]
    assert (event["event_id"], event["reason"], event["part"]) == (issued.event_id, "KAIZEN",
                                                                  "FG-100")  # fmt: skip
    rejections = [e for e in plant.events() if e["type"] == "scan-rejected"]
    assert [e["reason"] for e in rejections] == ["reason-required", "unknown-reason"]

    accepted(plant.scan(LAB, "VOID"))
    assert plant.balances() == before
    [void] = [e for e in plant.events() if e["type"] == "void"]
    assert (void["voided_event_id"], void["voided_type"]) == (issued.event_id, "issue")
