"""The reads behind ``edge variance`` and ``edge stock`` on a real SQLite file.

The rows they read (counts, balances with their use, last count and daily use,
kanban cards) are written here through the store's own methods in a real
transaction, with the values the rules would give, so what is tested is the
reading: one reading of each row, the verdict and the explained stock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from edge.domain.ports import Balance
from edge.domain.usage import CountRecord, LastCount, Usage
from edge.domain.variance import Verdict
from edge.store import queries, variance_query
from edge.store.unit_of_work import SqlUnitOfWork
from tests.shop_floor import ShopFloor

D = Decimal
ITEMS = """\
part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple,lead_time_days,aliases
FG-A,Assembly A,EA,false,,,,,,
FG-B,Assembly B,EA,false,,,,,,
GASKET,Gasket 38x2,EA,false,100,,,,,
SCREW,Screw M4,EA,false,,,,,,
BIN-NUT,Nut M4 in two bins,EA,false,,,,,,
"""
BOM = """\
parent,component,qty_per,scrap_pct
FG-A,GASKET,2,0
FG-A,SCREW,4,0
FG-B,GASKET,0.5,0
"""


def counted(part: str, day: int, book: str, counted: str, used: Usage) -> CountRecord:
    at = f"2026-03-{day:02}T06:00:00.000Z"
    previous = None if day == 1 else f"2026-03-{day - 1:02}T06:00:00.000Z"
    variance = D(counted) - D(book)
    return CountRecord(part, at, previous, D(book), D(counted), variance, used, D(5))


def keep_counts(floor: ShopFloor, records: list[CountRecord]) -> None:
    """Each record kept with a count transaction of its own, as a count posts it."""

    def write(_inventory: object, uow: SqlUnitOfWork) -> None:
        for record in records:
            txn = uow.add_transaction("count", floor.clock.moment(), part=record.part,
                                      quantity=record.counted)  # fmt: skip
            uow.add_count(txn, record)

    floor.service.transact(write)


@pytest.fixture
def catalog(floor: ShopFloor) -> ShopFloor:
    floor.load(ITEMS, BOM)
    floor.opening(GASKET="1000", SCREW="500", **{"BIN-NUT": "80"})
    return floor


THROUGH_BOM = Usage(backflush=D(200), bom=D(200))


def test_three_counts_short_by_the_same_share_make_a_bom_suspect(catalog: ShopFloor) -> None:
    keep_counts(catalog, [
        counted("GASKET", 1, "800", "780", THROUGH_BOM),
        counted("SCREW", 1, "100", "100", Usage(backflush=D(400), bom=D(400))),
        counted("GASKET", 2, "580", "560", THROUGH_BOM),
        counted("GASKET", 3, "360", "340", THROUGH_BOM),
    ])  # fmt: skip
    reports = variance_query.variance(catalog.engine)
    assert [(r.part, r.variance.verdict) for r in reports] == [
        ("GASKET", Verdict.BOM_SUSPECT), ("SCREW", Verdict.WITHIN),
    ]  # fmt: skip
    gasket = reports[0]
    assert (gasket.description, gasket.uom, gasket.variance.judged) == ("Gasket 38x2", "EA", 3)
    assert [(u.parent, u.qty_per, u.implied) for u in gasket.variance.implied] == [
        ("FG-A", D(2), D("2.2")), ("FG-B", D("0.5"), D("0.55")),
    ]  # fmt: skip
    document = gasket.as_json()
    assert [c["counted_at"] for c in document["counts"]] == [
        "2026-03-01T06:00:00.000Z", "2026-03-02T06:00:00.000Z", "2026-03-03T06:00:00.000Z",
    ]  # fmt: skip
    assert document["counts"][0] == {
        "counted_at": "2026-03-01T06:00:00.000Z", "previous_at": None,
        "book": D(800), "counted": D(780), "variance": D(-20), "variance_pct": D("-10.00"),
        "tolerance_pct": D(5), "over_tolerance": True, "consumed": D(200),
        "used": {"backflush": D(200), "scrap": D(0), "issue": D(0), "bom": D(200)},
    }  # fmt: skip
    assert (document["latest_variance"], document["latest_variance_pct"]) == (D(-20), D(-10))
    assert document["verdict"] == "bom-suspect"


def test_since_and_part_narrow_the_counts(catalog: ShopFloor) -> None:
    keep_counts(catalog, [
        counted("GASKET", 1, "800", "700", THROUGH_BOM),  # -50 %: before the window
        counted("GASKET", 2, "500", "480", THROUGH_BOM),
        counted("SCREW", 2, "100", "90", Usage(issue=D(20))),
    ])  # fmt: skip
    since = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # at a count's time: it is included
    reports = variance_query.variance(catalog.engine, since=since)
    assert [(r.part, len(r.variance.counts), r.variance.verdict) for r in reports] == [
        ("GASKET", 1, Verdict.SHRINKAGE), ("SCREW", 1, Verdict.SHRINKAGE),
    ]  # fmt: skip
    [screw] = variance_query.variance(catalog.engine, part="SCREW")
    assert screw.variance.latest is not None
    assert screw.variance.latest.pct == D("-50.00")
    assert variance_query.variance(catalog.engine, part="FG-A") == []  # an item, never counted
    later = datetime(2026, 3, 2, 6, 0, 0, 1000, tzinfo=UTC)
    assert variance_query.variance(catalog.engine, since=later) == []
    with pytest.raises(variance_query.UnknownPart, match="no item 'NOPE'"):
        variance_query.variance(catalog.engine, part="NOPE")


def test_stock_explains_each_part_from_its_balance_row_and_cards(catalog: ShopFloor) -> None:
    # BIN-NUT is replenished by kanban; its cards come from cards.csv in the product.
    with catalog.engine.begin() as connection:
        connection.execute(text("UPDATE items SET replenishment = 'kanban' WHERE part = 'BIN-NUT'"))
        for card, state in (("K-2", "empty"), ("K-1", "full"), ("K-3", "full")):
            connection.execute(
                text("INSERT INTO cards (card, part, container_qty, state, updated_at) "
                     "VALUES (:card, 'BIN-NUT', '40', :state, '2026-03-01T06:00:00.000Z')"),
                {"card": card, "state": state},
            )  # fmt: skip
    at_count = Usage(backflush=D(300), scrap=D(10), bom=D(300))
    gasket = Balance(
        on_hand=D(600),
        used=Usage(backflush=D(380), scrap=D(15), issue=D(5), bom=D(380)),
        daily=(("2026-02-19", D(999)), ("2026-02-20", D(70)), ("2026-03-05", D(70))),
        counted=LastCount("2026-03-04T06:00:00.000Z", D(640), at_count),
    )

    def write(_inventory: object, uow: SqlUnitOfWork) -> None:
        uow.save_balance("GASKET", gasket)

    catalog.service.transact(write)
    rows = {
        row.part: row.as_json()
        for row in queries.stock(catalog.engine, datetime(2026, 3, 5, 12, 0, tzinfo=UTC))
    }
    assert list(rows["GASKET"]) == [
        "part", "description", "uom", "on_hand", "on_order", "position", "reorder_point",
        "state", "replenishment", "last_counted_at", "last_counted", "consumed_since_count",
        "average_daily_use", "days_of_cover", "cards",
    ]  # fmt: skip
    assert rows["GASKET"] == {
        "part": "GASKET", "description": "Gasket 38x2", "uom": "EA",
        "on_hand": D(600), "on_order": D(0), "position": D(600), "reorder_point": D(100),
        "state": "ok", "replenishment": "reorder",
        "last_counted_at": "2026-03-04T06:00:00.000Z", "last_counted": D(640),
        "consumed_since_count": D(90),  # 80 backflushed, 5 scrapped, 5 issued since
        "average_daily_use": D(10),  # 140 over 02-20..03-05, its 14 days; 02-19 is before
        "days_of_cover": D("60.0"),
        "cards": None,
    }  # fmt: skip
    nut = rows["BIN-NUT"]
    assert (nut["replenishment"], nut["cards"]) == ("kanban", {"full": ["K-1", "K-3"],
                                                               "empty": ["K-2"]})  # fmt: skip
    assert (nut["last_counted_at"], nut["average_daily_use"], nut["days_of_cover"]) == (
        None, D(0), None,
    )  # fmt: skip
    # Nothing consumed since the opening: since the first record, none.
    assert rows["SCREW"]["consumed_since_count"] == D(0)
    assert "FG-A" not in rows  # a phantom holds no stock
