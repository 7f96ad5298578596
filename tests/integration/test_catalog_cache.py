"""The catalog read on demand: imports are seen by the next scan, small caches change nothing.

The daemon keeps what it read of the catalog between transactions, per
catalog version; these run the real importers and scans on a SQLite file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from edge.domain import bom
from edge.store import catalog, schema
from edge.store.database import open_database
from tests.shop_floor import SHIP, ShopFloor, make_service

D = Decimal
ITEMS = """\
part,description,stocked,aliases
FG-1,Pump,false,CUST-1
KIT-1,Kit,false,
R-A,Screw,false,4006381333931
R-B,Gasket,false,
R-C,Washer,false,
"""
BOM = """\
parent,component,qty_per,scrap_pct
FG-1,KIT-1,1,0
FG-1,R-A,2,0
KIT-1,R-B,3,0
"""


def shipped(floor: ShopFloor, code: str) -> list[tuple[str, Decimal]]:
    outcome = floor.scan(SHIP, code)
    assert outcome.good, outcome
    txn_id = floor.transactions()[-1].id
    return sorted(floor.ledger(txn_id))


@pytest.fixture
def pump(floor: ShopFloor) -> ShopFloor:
    floor.load(ITEMS, BOM)
    return floor


def test_a_bom_changed_by_an_import_is_exploded_anew_by_the_next_scan(pump: ShopFloor) -> None:
    assert shipped(pump, "FG-1") == [("R-A", D(-2)), ("R-B", D(-3))]
    pump.load("part,description\nR-C,Washer\n", "parent,component,qty_per,scrap_pct\n"
              "KIT-1,R-C,5,0\n")  # fmt: skip
    assert shipped(pump, "FG-1") == [("R-A", D(-2)), ("R-C", D(-5))]


def test_aliases_changed_by_an_import_resolve_at_the_next_scan(pump: ShopFloor) -> None:
    assert shipped(pump, "CUST-1") == [("R-A", D(-2)), ("R-B", D(-3))]
    assert not pump.scan(SHIP, "CUST-9").good  # unknown, and remembered as unknown
    pump.load("part,description,aliases\nFG-1,Pump,CUST-9\n")
    assert shipped(pump, "CUST-9") == [("R-A", D(-2)), ("R-B", D(-3))]
    assert not pump.scan(SHIP, "CUST-1").good  # the import replaced FG-1's aliases


def test_a_stocked_flag_changed_by_an_import_is_seen_by_the_next_scan(pump: ShopFloor) -> None:
    assert shipped(pump, "FG-1") == [("R-A", D(-2)), ("R-B", D(-3))]
    pump.load("part,description,stocked\nKIT-1,Kit,true\n")
    assert shipped(pump, "FG-1") == [("KIT-1", D(-1)), ("R-A", D(-2))]


def test_a_units_and_reorder_point_changed_by_an_import_are_in_the_next_scans_posting(
    pump: ShopFloor,
) -> None:
    """A posting plan (a product's ledger rows, units and policies) is made per catalog
    version: the next scan after an import carries the new unit and fires the new point."""
    pump.opening(**{"R-A": "100", "R-B": "100"})
    shipped(pump, "FG-1")
    pump.load("part,description,uom,reorder_point\nR-A,Screw,PCS,97\n")
    shipped(pump, "FG-1")
    backflushes = [e for e in pump.events() if e["type"] == "backflush"]
    units = [{line["part"]: line["uom"] for line in e["lines"]} for e in backflushes]
    assert units == [{"R-A": "EA", "R-B": "EA"}, {"R-A": "PCS", "R-B": "EA"}]
    [low] = [e for e in pump.events() if e["type"] == "low-stock"]
    assert (low["part"], low["on_hand"], low["reorder_point"]) == ("R-A", 96, 97)


def test_an_import_by_another_process_is_seen_by_the_daemons_next_scan(
    pump: ShopFloor, db_path: Path, tmp_path: Path
) -> None:
    assert shipped(pump, "FG-1") == [("R-A", D(-2)), ("R-B", D(-3))]
    # `edge import` has an engine and a catalog cache of its own.
    other = ShopFloor(make_service(open_database(db_path)), pump.clock, tmp_path / "other")
    other.workdir.mkdir()
    try:
        other.load(ITEMS, "parent,component,qty_per,scrap_pct\nFG-1,R-A,7,0\n")
    finally:
        other.engine.dispose()
    assert shipped(pump, "FG-1") == [("R-A", D(-7))]


def test_caches_far_smaller_than_the_catalog_give_the_same_ledger(
    floor: ShopFloor, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ITEMS_KEPT", "ALIASES_KEPT", "BOMS_KEPT"):
        monkeypatch.setattr(catalog, name, 2)
    monkeypatch.setattr(bom, "EXPLOSIONS_KEPT", 1)
    floor.load(ITEMS, BOM)  # a new catalog version: its caches take the small sizes
    for _ in range(3):
        assert shipped(floor, "FG-1") == [("R-A", D(-2)), ("R-B", D(-3))]
        assert shipped(floor, "KIT-1") == [("R-B", D(-3))]
        assert shipped(floor, "04006381333931") == [("R-A", D(-1))]
        assert shipped(floor, "CUST-1") == [("R-A", D(-2)), ("R-B", D(-3))]


def test_an_uncommitted_catalog_change_is_never_shared(pump: ShopFloor) -> None:
    assert shipped(pump, "FG-1") == [("R-A", D(-2)), ("R-B", D(-3))]  # the cache holds KIT-1
    with pump.service.unit_of_work() as uow:
        uow.connection.execute(
            update(schema.items).where(schema.items.c.part == "KIT-1").values(stocked=True)
        )
        uow.bump_catalog()
        assert uow.bom_graph().is_stocked("KIT-1")  # the transaction sees its own change
        assert uow.bom_graph().consumption("FG-1").lines == (("KIT-1", D(1)), ("R-A", D(2)))
    # Rolled back. The next committed import takes the version number the
    # uncommitted change had; the scan after it must see the kit as a phantom.
    pump.load("part,description\nR-C,Washer\n")
    assert shipped(pump, "FG-1") == [("R-A", D(-2)), ("R-B", D(-3))]
