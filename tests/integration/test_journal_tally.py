"""The view's journal reads on a real SQLite file: what /metrics counts equals the journal,
from the first read (a restarted daemon) and then row by row, whoever journaled them."""

from __future__ import annotations

from collections import Counter

from edge.observe.journal import RECENT, JournalReader
from tests.shop_floor import SCRAP, SHIP, ShopFloor

ITEMS = "part,description,stocked,reorder_point\nFG-1,Pump,false,\nR-A,Screw,true,5\n"
BOM = "parent,component,qty_per,scrap_pct\nFG-1,R-A,2,0\n"


def _journal(floor: ShopFloor) -> Counter[tuple[str, str, str]]:
    return Counter((row.station, row.status, row.reason or "") for row in floor.scans())


def test_the_tally_equals_the_journal_from_the_first_read_and_after(floor: ShopFloor) -> None:
    floor.load(ITEMS, BOM)
    for code in ("FG-1", "NOPE", "QTY:0", "FG-1"):
        floor.scan(SHIP, code)
    floor.scan(SCRAP, "NOPE")
    reader = JournalReader(floor.workdir / "edge.db", [SHIP, SCRAP])
    try:
        reader.refresh()  # a daemon started on a journal that already holds scans
        counts, last_at = reader.tally()
        assert counts == _journal(floor)
        assert set(last_at) == {SHIP, SCRAP}
        assert [scan["code"] for scan in reader.station_scans(SHIP)] == [
            "FG-1", "QTY:0", "NOPE", "FG-1"]  # fmt: skip

        for index in range(RECENT + 3):  # more than a page lists
            floor.scan(SHIP, f"NOPE-{index}")
        reader.refresh()
        assert reader.tally()[0] == _journal(floor)
        shown = reader.station_scans(SHIP)
        assert len(shown) == RECENT
        assert shown[0]["code"] == f"NOPE-{RECENT + 2}"
        assert shown[0]["words"] == f"unknown part NOPE-{RECENT + 2}"
        assert reader.tally()[1][SHIP] == floor.scans()[-1].at

        # FG-1 shipped twice took R-A below its reorder point of 5 (and below zero).
        [low], count = reader.low_parts(SHIP)
        assert (low.part, low.on_hand, low.state, count) == ("R-A", "-4", "negative", 1)
        assert reader.low_parts(SCRAP) == ([], 0)
    finally:
        reader.close()
