"""Kanban items and cards through the one apply path on a real SQLite file: cards.csv
and JSON rows, the rules with their places, the state an upsert keeps, the first
reconciliation mark, and the catalog version the store's card cache follows."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from edge.domain import exactjson
from edge.domain.inventory import Inventory
from edge.domain.model import Card, CardState, Replenishment
from edge.domain.quantity import from_storage
from edge.masterdata.apply import (
    CARD_COLUMNS,
    ITEM_COLUMNS,
    ImportRefused,
    json_rows,
    upsert_cards,
    upsert_items,
)
from edge.masterdata.cards import import_cards
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.store import schema
from edge.store.catalog_writes import catalog_version
from edge.store.database import read_only
from edge.store.unit_of_work import SqlUnitOfWork
from tests.e2e.conftest import table_rows
from tests.shop_floor import SCRAP, SHIP, ShopFloor

D = Decimal
HEADER = "part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple,"
ITEMS = f"""\
{HEADER}lead_time_days,aliases,replenishment,count_tolerance_pct
FG-1,Pump,EA,false,,,,,,,,
R-SCREW,Screw,EA,false,40,,,,2,CUST-S,kanban,2.5
R-NUT,Nut,EA,false,5,10,,,,,,
"""
BOM = "parent,component,qty_per,scrap_pct\nFG-1,R-SCREW,2,0\nFG-1,R-NUT,1,0\n"
CARDS = "card,part,container_qty,location\nK-S-1,R-SCREW,100,A-01\nK-S-2,R-SCREW,100,\n"


def version_of(floor: ShopFloor) -> int:
    with read_only(floor.engine) as connection, connection.begin():
        return catalog_version(connection)


def write(floor: ShopFloor, name: str, text: str) -> Path:
    path = floor.workdir / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(call: object) -> list[str]:
    assert callable(call)
    with pytest.raises(ImportRefused) as refused:
        call()
    return [str(error) for error in refused.value.errors]


def stored_cards(floor: ShopFloor) -> dict[str, tuple[str, str, str, str, str | None]]:
    return {
        row.card: (row.part, row.container_qty, row.location, row.state, row.emptied_at)
        for row in floor.rows(schema.cards)
    }


def marks(floor: ShopFloor) -> dict[str, tuple[Decimal, str]]:
    return {row.part: (from_storage(row.used), row.at) for row in floor.rows(schema.kanban_marks)}


@pytest.fixture
def catalog(floor: ShopFloor) -> ShopFloor:
    floor.load(ITEMS, BOM)
    return floor


# --- items ------------------------------------------------------------------------------


def test_the_new_item_columns_are_stored_and_read_back_by_the_catalog(catalog: ShopFloor) -> None:
    items = {row.part: row for row in catalog.rows(schema.items)}
    assert (items["R-SCREW"].replenishment, items["R-SCREW"].count_tolerance_pct) == (
        "kanban", "2.5"
    )  # fmt: skip
    assert (items["R-NUT"].replenishment, items["R-NUT"].count_tolerance_pct) == ("reorder", None)

    screw = catalog.service.transact(lambda _inventory, uow: uow.item("R-SCREW"))
    assert screw is not None
    assert (screw.replenishment, screw.kanban, screw.count_tolerance_pct) == (
        Replenishment.KANBAN, True, D("2.5")
    )  # fmt: skip


def test_a_file_without_the_columns_keeps_what_the_items_had(catalog: ShopFloor) -> None:
    import_items(catalog.service, write(catalog, "old.csv", "part,description\nR-SCREW,Screw 2\n"))
    [screw] = [row for row in catalog.rows(schema.items) if row.part == "R-SCREW"]
    assert (screw.description, screw.replenishment, screw.count_tolerance_pct) == (
        "Screw 2", "kanban", "2.5"
    )  # fmt: skip
    # Given empty, a tolerance is cleared (the config's applies) and replenishment is reorder.
    import_items(
        catalog.service,
        write(catalog, "new.csv", "part,replenishment,count_tolerance_pct\nR-SCREW,,\n"),
    )
    [screw] = [row for row in catalog.rows(schema.items) if row.part == "R-SCREW"]
    assert (screw.replenishment, screw.count_tolerance_pct) == ("reorder", None)


def test_kanban_rules_are_refused_at_their_cells_and_change_nothing(catalog: ShopFloor) -> None:
    before = table_rows(Path(str(catalog.engine.url.database)))
    text = f"""\
{HEADER}lead_time_days,aliases,replenishment,count_tolerance_pct
R-A,,EA,false,5,10,20,2,,,kanban,
R-B,,EA,false,,,,,,,Kanban,-1
FG-1,,EA,false,,,,,,,kanban,
"""
    errors = refusal(lambda: import_items(catalog.service, write(catalog, "bad.csv", text)))
    assert errors == [
        "bad.csv:2:6 (reorder_qty): a kanban part is refilled by its cards, not by reorders",
        "bad.csv:2:7 (max_qty): a kanban part is refilled by its cards, not by reorders",
        "bad.csv:2:8 (order_multiple): a kanban part is refilled by its cards, not by reorders",
        "bad.csv:3:11 (replenishment): 'Kanban' is not one of reorder, kanban",
        "bad.csv:3:12 (count_tolerance_pct): cannot be negative (a percent of the consumption "
        "since the previous count)",
        "bad.csv:4:11 (replenishment): a phantom assembly (it has a BOM and stocked = false) "
        "holds no stock, so it cannot be kanban; set stocked = true to hold it in stock",
    ]
    assert table_rows(Path(str(catalog.engine.url.database))) == before


def test_a_bom_cannot_make_a_kanban_part_a_phantom(catalog: ShopFloor) -> None:
    bom = write(catalog, "bom.csv", "parent,component,qty_per\nR-SCREW,R-NUT,1\n")
    from edge.masterdata.bom import import_bom

    [error] = refusal(lambda: import_bom(catalog.service, bom))
    assert error.startswith("bom.csv:2:1 (parent): 'R-SCREW' is a kanban part but stocked = false")


# --- cards ------------------------------------------------------------------------------


def test_cards_are_imported_full_and_the_first_card_marks_the_use_so_far(
    catalog: ShopFloor,
) -> None:
    catalog.opening(**{"R-SCREW": "100", "R-NUT": "50"})
    # The part's use so far, posted: 2 backflushed (through FG-1's BOM), 1 scrapped and
    # 0.5 issued (used_bom is a share of the three, not a fourth use).
    catalog.scan(SHIP, "FG-1")
    catalog.scan(SCRAP, "R-SCREW")
    catalog.run(lambda inventory, at: inventory.issue("R-SCREW", D("0.5"), at, reason="TEST"))
    [screws] = [row for row in catalog.rows(schema.balances) if row.part == "R-SCREW"]
    assert (screws.used_backflush, screws.used_scrap, screws.used_issue, screws.used_bom) == (
        "2", "1", "0.5", "2",
    )  # fmt: skip
    before = version_of(catalog)

    summary = import_cards(catalog.service, write(catalog, "cards.csv", CARDS))

    assert (summary.rows, summary.added, summary.updated) == (2, 2, 0)
    assert version_of(catalog) == before + 1
    assert stored_cards(catalog) == {
        "K-S-1": ("R-SCREW", "100", "A-01", "full", None),
        "K-S-2": ("R-SCREW", "100", "", "full", None),
    }
    [(used, at)] = marks(catalog).values()
    assert used == D("3.5")
    assert at.endswith("Z")

    # A later card of the same part leaves the mark where it was.
    more = write(catalog, "more.csv", "card,part,container_qty\nK-S-3,R-SCREW,50\n")
    import_cards(catalog.service, more)
    assert marks(catalog) == {"R-SCREW": (used, at)}


def test_a_part_without_a_balance_starts_its_mark_at_zero(catalog: ShopFloor) -> None:
    import_cards(catalog.service, write(catalog, "cards.csv", CARDS))
    assert [used for used, _ in marks(catalog).values()] == [D(0)]


def test_the_store_knows_the_new_cards_at_once(catalog: ShopFloor) -> None:
    # Read (and cached as "no card") before the import...
    assert catalog.service.transact(lambda _inventory, uow: uow.card("K-S-1")) is None
    import_cards(catalog.service, write(catalog, "cards.csv", CARDS))
    # ... and found after it: the import raised the catalog version the cache belongs to.
    card = catalog.service.transact(lambda _inventory, uow: uow.card("K-S-1"))
    assert card == Card("K-S-1", "R-SCREW", D(100), "A-01", CardState.FULL, None)
    assert [c.card for c in catalog.service.transact(lambda _i, uow: uow.cards_of("R-SCREW"))] == [
        "K-S-1", "K-S-2"
    ]  # fmt: skip


def test_an_upsert_keeps_the_state_and_refuses_a_new_part(catalog: ShopFloor) -> None:
    import_cards(catalog.service, write(catalog, "cards.csv", CARDS))
    at = catalog.clock.moment()

    def empty(_inventory: Inventory, uow: SqlUnitOfWork) -> None:
        # As an empty-card scan leaves it (the scan rules are not this test's).
        card = uow.card("K-S-1")
        assert card is not None
        emptied = replace(card, state=CardState.EMPTY, emptied_at="2026-03-02T06:00:00.000Z")
        uow.save_card(emptied, at)

    catalog.service.transact(empty)

    summary = import_cards(
        catalog.service,
        write(catalog, "again.csv", "card,part,container_qty,location\nK-S-1,R-SCREW,120,B-02\n"),
    )

    assert (summary.added, summary.updated) == (0, 1)
    assert stored_cards(catalog)["K-S-1"] == (
        "R-SCREW", "120", "B-02", "empty", "2026-03-02T06:00:00.000Z"
    )  # fmt: skip
    import_items(catalog.service, write(catalog, "k.csv", "part,replenishment\nR-NUT,kanban\n"))
    moved = write(catalog, "moved.csv", "card,part,container_qty\nK-S-1,R-NUT,120\n")
    assert refusal(lambda: import_cards(catalog.service, moved)) == [
        "moved.csv:2:2 (part): card 'K-S-1' is a card of 'R-SCREW': a card keeps its part; "
        "give a new container a new card id"
    ]


def test_card_rules_are_refused_at_their_cells_and_change_nothing(catalog: ShopFloor) -> None:
    import_cards(catalog.service, write(catalog, "cards.csv", CARDS))
    before = table_rows(Path(str(catalog.engine.url.database)))
    text = """\
card,part,container_qty,location
R-NUT,R-SCREW,10,
CUST-S,R-SCREW,10,
K-N-1,R-NUT,10,
K-F-1,FG-1,10,
K-X-1,NOPE,10,
K-Z-1,R-SCREW,0,
K-Z-2,R-SCREW,1e3,
,R-SCREW,1,
K-D-1,R-SCREW,1,
K-D-1,R-SCREW,2,
"""
    errors = refusal(lambda: import_cards(catalog.service, write(catalog, "bad.csv", text)))
    assert errors == [
        "bad.csv:2:1 (card): 'R-NUT' is a part number; a card id is a code of its own",
        "bad.csv:3:1 (card): 'CUST-S' is an alias of 'R-SCREW'; a card id is a code of its own",
        "bad.csv:4:2 (part): 'R-NUT' is replenished by reorders; set replenishment = kanban "
        "in items.csv to give it cards",
        "bad.csv:5:2 (part): 'FG-1' is a phantom assembly (it holds no stock), so it has no cards",
        "bad.csv:6:2 (part): unknown part 'NOPE': import it in items.csv first",
        "bad.csv:7:3 (container_qty): must be greater than 0",
        "bad.csv:8:3 (container_qty): '1e3' is not a quantity (digits with up to 6 decimals, "
        "e.g. 12 or 0.25)",
        "bad.csv:9:1 (card): part number is empty",
        "bad.csv:11:1 (card): 'K-D-1' is listed again (first on line 10)",
    ]
    assert table_rows(Path(str(catalog.engine.url.database))) == before


def test_an_item_or_alias_with_a_card_id_is_refused(catalog: ShopFloor) -> None:
    import_cards(catalog.service, write(catalog, "cards.csv", CARDS))
    text = "part,aliases\nK-S-1,\nR-NUT,K-S-2\n"
    assert refusal(lambda: import_items(catalog.service, write(catalog, "i.csv", text))) == [
        "i.csv:2:1 (part): 'K-S-1' is the id of a kanban card; a card id is a code of its own",
        "i.csv:3:2 (aliases): 'K-S-2' is the id of a kanban card; a card id is a code of its own",
    ]
    # Nor can a part with cards go back to reorders.
    text = "part,replenishment\nR-SCREW,reorder\n"
    assert refusal(lambda: import_items(catalog.service, write(catalog, "r.csv", text))) == [
        "r.csv:2:2 (replenishment): the part has 2 kanban card(s), so it stays kanban "
        "(replenishment = kanban)"
    ]


def test_json_cards_and_items_take_the_same_path_with_json_paths(catalog: ShopFloor) -> None:
    payload = exactjson.loads(
        exactjson.dumps([
            {"card": "K-J-1", "part": "R-SCREW", "container_qty": D("12.5"), "location": "C-3"},
            {"card": "K-J-2", "part": "R-SCREW", "container_qty": "7"},
        ])
    )  # fmt: skip
    applied = upsert_cards(catalog.service, json_rows(payload, "$.cards", CARD_COLUMNS))
    assert applied.catalog_version == version_of(catalog)
    assert stored_cards(catalog)["K-J-1"] == ("R-SCREW", "12.5", "C-3", "full", None)

    bad = json_rows(
        [{"card": "K-J-3", "part": "R-NUT", "container_qty": 1.5, "state": "empty"}],
        "$.cards",
        CARD_COLUMNS,
    )
    errors = refusal(lambda: upsert_cards(catalog.service, bad))
    assert [error.split(":")[0] for error in errors] == [
        "$.cards[0].state",
        "$.cards[0].container_qty",
        "$.cards[0].part",
    ]
    items = json_rows(
        [{"part": "R-NUT", "replenishment": "kanban", "reorder_point": 5, "reorder_qty": 10},
         {"part": "R-W", "replenishment": 1}],
        "$.items",
        ITEM_COLUMNS,
    )  # fmt: skip
    errors = refusal(lambda: upsert_items(catalog.service, items))
    assert errors == [
        "$.items[0].reorder_qty: a kanban part is refilled by its cards, not by reorders",
        "$.items[1].replenishment: must be a string, not the number 1",
    ]


def test_opening_stock_of_a_kanban_part_tells_its_cards_in_the_stock_message(
    floor: ShopFloor,
) -> None:
    floor.load("part,stocked,replenishment\nCLIP,true,kanban\n")
    floor.load_cards("card,part,container_qty\nKB-2,CLIP,50\nKB-1,CLIP,50\n")
    import_stock(floor.service, write(floor, "stock.csv", "part,on_hand\nCLIP,100\n"),
                 floor.clock.moment())  # fmt: skip
    message = floor.stock_message("CLIP")
    assert (message["on_hand"], message["replenishment"]) == (100, "kanban")
    assert message["cards"] == {"full": ["KB-1", "KB-2"], "empty": []}
