"""`edge variance` and the explained `edge stock` as a user runs them (SPEC §13): counts
compared with the consumption since the previous one, a BOM suspect with the quantity
per parent the counts imply, and an on-hand that says what explains it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from edge.config import load_config
from edge.domain.scanning import ScanInput
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.runtime.bootstrap import build_service
from edge.runtime.clock import SystemClock
from edge.service import PendingScan
from hardware.barcode import decode
from tests.e2e.conftest import Edge, copy_database, describe, make_edge

ITEMS = """\
part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple,lead_time_days,aliases
FG-A,Assembly A,EA,false,,,,,,
GASKET,Gasket 38x2,EA,false,,,,,,
"""
BOM = "parent,component,qty_per,scrap_pct\nFG-A,GASKET,2,0\n"
STOCK = "part,on_hand\nGASKET,1000\n"
ROUNDS = 3
STOCK_KEYS = [
    *("part", "description", "uom", "on_hand", "on_order", "position", "reorder_point"),
    *("state", "replenishment", "last_counted_at", "last_counted", "consumed_since_count"),
    *("average_daily_use", "days_of_cover", "cards"),
]


@pytest.fixture(scope="module")
def counted_gaskets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FG-A needs 2 gaskets by its BOM; 1,000 on the shelf. Three rounds: 100 FG-A shipped
    (200 gaskets backflushed), then a count 20 below the book. Made once, through the service
    the commands use (what `edge import`, `edge scan` and `edge count` do, in this process);
    each test copies it and runs the commands it is about as real processes.
    """
    floor = make_edge(tmp_path_factory.mktemp("gaskets"))
    service = build_service(load_config(floor.config))
    import_items(service, floor.write("items.csv", ITEMS))
    import_bom(service, floor.write("bom.csv", BOM))
    import_stock(service, floor.write("stock.csv", STOCK), SystemClock().moment())
    for book in (800, 580, 360):  # 1000 - 200, then 20 short and 200 more each round
        for code in (b"QTY:100", b"FG-A"):
            read = ScanInput("cli", "PACK-1", code, SystemClock().moment())
            [outcome] = service.process_scans([PendingScan(read, decode(code))])
            assert outcome.good, outcome
        service.transact(lambda inventory, _uow, book=book: inventory.count(
            "GASKET", Decimal(book - 20), SystemClock().moment()))  # fmt: skip
    service.engine.dispose()
    return floor.workdir


@pytest.fixture
def floor(counted_gaskets: Path, edge: Edge) -> Edge:
    copy_database(counted_gaskets, edge.workdir)
    return edge


def test_a_gasket_short_by_the_same_share_three_times_is_a_bom_suspect(floor: Edge) -> None:
    [gasket] = floor.json("variance")
    assert (gasket["part"], gasket["uom"], gasket["verdict"]) == ("GASKET", "EA", "bom-suspect")
    assert gasket["implied_per_parent"] == [
        {"parent": "FG-A", "qty_per": 2, "implied": Decimal("2.2")}
    ]
    assert [(c["book"], c["counted"], c["variance"]) for c in gasket["counts"]] == [
        (800, 780, -20), (580, 560, -20), (360, 340, -20),
    ]  # fmt: skip
    assert [(c["variance_pct"], c["over_tolerance"]) for c in gasket["counts"]] == [
        (-10, True),
    ] * ROUNDS
    assert [c["used"] for c in gasket["counts"]] == [
        {"backflush": 200, "scrap": 0, "issue": 0, "bom": 200},
    ] * ROUNDS
    assert (gasket["latest_variance"], gasket["latest_variance_pct"]) == (-20, -10)
    assert (gasket["tolerance_pct"], gasket["judged_counts"]) == (5, ROUNDS)

    table = floor.ok("variance").stdout
    assert "bom-suspect" in table
    assert "GASKET in FG-A: BOM 2, counts imply 2.2 EA per FG-A (the last 3 counts)" in table
    # Only the latest count from its time on: one count is no repetition.
    since = gasket["counts"][-1]["counted_at"]
    [latest] = floor.json("variance", "--since", since, "--part", "GASKET")
    assert (len(latest["counts"]), latest["verdict"]) == (1, "shrinkage-or-unrecorded-usage")


def test_stock_says_when_the_part_was_counted_and_what_was_used_since(floor: Edge) -> None:
    floor.ok("scan", "--station", "PACK-1", "QTY:10", "FG-A")
    [gasket] = [row for row in floor.json("stock") if row["part"] == "GASKET"]
    assert list(gasket) == STOCK_KEYS
    assert (gasket["on_hand"], gasket["last_counted"], gasket["consumed_since_count"]) == (
        320, 340, 20,
    )  # fmt: skip
    assert gasket["last_counted_at"].endswith("Z")
    # 620 backflushed today, over the 14 days ending today; 320 last 7.2 days at that rate.
    assert gasket["average_daily_use"] == Decimal("44.285714")
    assert gasket["days_of_cover"] == Decimal("7.2")


def test_stock_json_explains_every_part_and_the_table_fits_120_columns(demo_edge: Edge) -> None:
    rows = demo_edge.json("stock")
    for row in rows:
        assert list(row) == STOCK_KEYS, row["part"]
        assert Decimal(row["position"]) == Decimal(row["on_hand"]) + Decimal(row["on_order"])
        # RM-CLIP is kanban; the demo catalog imports no cards.csv, so it has none yet.
        kanban = row["part"] == "RM-CLIP"
        assert (row["replenishment"], row["cards"]) == (
            ("kanban", {"full": [], "empty": []}) if kanban else ("reorder", None)
        )
        assert (row["last_counted_at"], row["last_counted"]) == (None, None)  # never counted
        assert (row["average_daily_use"], row["days_of_cover"]) == (0, None)  # nothing used
    by_part = {row["part"]: row for row in rows}
    # The opening's reorder for PK-BOX-S: 3 on hand, 40 on order, a position of 43.
    assert (by_part["PK-BOX-S"]["on_order"], by_part["PK-BOX-S"]["position"]) == (40, 43)

    table = demo_edge.ok("stock").stdout.splitlines()
    assert table[0].split()[:11] == [
        *("part", "on_hand", "on_order", "position", "uom", "state", "counted"),
        *("used", "daily", "cover", "cards"),
    ]
    assert max(len(line) for line in table) <= 120
    [boxes] = [line for line in table if line.startswith("PK-BOX-S ")]
    assert boxes.split()[:6] == ["PK-BOX-S", "3", "40", "43", "EA", "low"]
    assert boxes.endswith("Shipping box small")  # the description, where it fits


def test_variance_without_counts_and_its_usage_errors(demo_edge: Edge) -> None:
    assert demo_edge.json("variance") == []
    assert demo_edge.ok("variance").stdout == "no counts\n"
    assert demo_edge.json("variance", "--part", "RM-GASKET") == []  # an item, never counted
    unknown = demo_edge("variance", "--part", "NOPE")
    assert unknown.returncode == 2, describe(unknown)
    assert "edge variance: no item 'NOPE'" in unknown.stderr
    for since, message in (
        ("yesterday", "'yesterday' is not an RFC 3339 time"),
        ("2026-12-02T06:00:00", "must say its offset from UTC"),
    ):
        result = demo_edge("variance", "--since", since)
        assert result.returncode == 2, describe(result)
        assert message in result.stderr
        assert result.stdout == ""
