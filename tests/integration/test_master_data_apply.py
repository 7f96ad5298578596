"""The one apply path for master data, on a real database: JSON rows with their paths,
re-validation when the catalog changed meanwhile, ``if_catalog_version``, and opening
stock told in ``opening-balances`` events."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from edge.domain import exactjson
from edge.domain.opening import OPENING_PARTS_PER_EVENT
from edge.masterdata.apply import (
    ITEM_COLUMNS,
    STOCK_COLUMNS,
    ImportRefused,
    json_bom_rows,
    json_rows,
    post_opening_stock,
    replace_boms,
    upsert_items,
)
from edge.masterdata.csv_files import read_csv
from edge.store import schema
from edge.store.catalog_writes import catalog_version
from edge.store.database import read_only
from tests.contract import check_published
from tests.e2e.conftest import table_rows
from tests.shop_floor import TOPIC_PREFIX, ShopFloor

D = Decimal
ITEMS = """\
part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple,lead_time_days,aliases
FG-1,Pump,EA,false,,,,,,
R-1,Rotor,EA,false,5,10,,,3,CUST-R1
R-2,Grease,KG,false,,,,,,
"""
BOM = "parent,component,qty_per,scrap_pct\nFG-1,R-1,1,0\nFG-1,R-2,0.25,0\n"


def items_payload(*rows: dict[str, Any]) -> object:
    """What a command's ``items`` arrives as: parsed with exact decimals."""
    return exactjson.loads(exactjson.dumps(list(rows)))


def version_of(floor: ShopFloor) -> int:
    with read_only(floor.engine) as connection, connection.begin():
        return catalog_version(connection)


def errors_of(refused: pytest.ExceptionInfo[ImportRefused]) -> list[tuple[str, str]]:
    return [(error.where, error.message) for error in refused.value.errors]


def db_path(floor: ShopFloor) -> Path:
    return Path(str(floor.engine.url.database))


@pytest.fixture
def catalog(floor: ShopFloor) -> ShopFloor:
    floor.load(ITEMS, BOM)
    return floor


# --- JSON rows --------------------------------------------------------------------


def test_json_items_are_applied_like_csv_rows(catalog: ShopFloor) -> None:
    before = version_of(catalog)
    rows = json_rows(
        items_payload(
            {"part": "R-3", "uom": "M", "stocked": False, "reorder_point": 2, "reorder_qty": "4.5",
             "lead_time_days": 7, "aliases": ["CUST-R3", "09506000134352"]},
            {"part": "R-1", "description": "Rotor, new", "reorder_point": D("0.5")},
        ),
        "$.items",
        ITEM_COLUMNS,
    )  # fmt: skip
    applied = upsert_items(catalog.service, rows)
    assert applied.catalog_version == before + 1 == version_of(catalog)
    assert (applied.summary.added, applied.summary.updated) == (1, 1)
    items = {row.part: row for row in catalog.rows(schema.items)}
    assert (items["R-3"].uom, items["R-3"].reorder_qty, items["R-3"].lead_time_days) == (
        "M", "4.5", 7
    )  # fmt: skip
    assert (items["R-1"].description, items["R-1"].reorder_point) == ("Rotor, new", "0.5")
    aliases = {row.code: row.part for row in catalog.rows(schema.aliases)}
    # R-1's row gave no aliases field: its alias stays; R-3's GTIN is normalized to 14 digits.
    assert aliases == {"CUST-R1": "R-1", "CUST-R3": "R-3", "09506000134352": "R-3"}


def test_json_errors_name_their_paths_and_change_nothing(catalog: ShopFloor) -> None:
    rows = json_rows(
        [
            {"part": "OK-1"},
            {"part": "R-9", "reorder_qty": "1e3", "bogus": 1, "stocked": "yes"},
            "not an object",
            {"part": "R-10", "lead_time_days": D("1.5"), "aliases": ["A", 7], "uom": 3},
            # A binary float, as a careless parser gives, is refused even when exact.
            {"part": "R-8", "reorder_point": D("0.1234567"), "max_qty": 1.5},
            {"part": 12},
        ],
        "$.items",
        ITEM_COLUMNS,
    )
    before = table_rows(db_path(catalog))
    with pytest.raises(ImportRefused) as refused:
        upsert_items(catalog.service, rows)
    where = [path for path, _ in errors_of(refused)]
    assert sorted(where) == sorted([
        "$.items[1].bogus",
        "$.items[1].reorder_qty",
        "$.items[1].stocked",
        "$.items[2]",
        "$.items[5].part",
        "$.items[3].lead_time_days",
        "$.items[3].aliases[1]",
        "$.items[3].uom",
        "$.items[4].reorder_point",
        "$.items[4].max_qty",
    ])  # fmt: skip
    messages = dict(errors_of(refused))
    assert "not a quantity" in messages["$.items[1].reorder_qty"]
    assert "binary float" in messages["$.items[4].max_qty"]
    assert "unknown field" in messages["$.items[1].bogus"]
    assert str(refused.value.errors[0]).startswith("$.items[")
    assert table_rows(db_path(catalog)) == before


def test_a_non_list_is_an_error_at_its_path(catalog: ShopFloor) -> None:
    with pytest.raises(ImportRefused) as refused:
        upsert_items(catalog.service, json_rows({"part": "X"}, "$.items", ITEM_COLUMNS))
    assert errors_of(refused) == [("$.items", "must be a list, not an object")]


def test_bom_replace_takes_parents_with_their_lines(catalog: ShopFloor) -> None:
    rows = json_bom_rows(
        [{"parent": "FG-1", "lines": [{"component": "R-2", "qty_per": 2, "scrap_pct": 0}]}],
        "$.parents",
    )
    applied = replace_boms(catalog.service, rows)
    assert (applied.summary.rows, applied.summary.parents) == (1, 1)
    lines = [(row.parent, row.component, row.qty_per) for row in catalog.rows(schema.bom_lines)]
    assert lines == [("FG-1", "R-2", "2")]


def test_bom_replace_errors_name_the_parent_and_line_paths(catalog: ShopFloor) -> None:
    rows = json_bom_rows(
        [
            {"parent": "NOPE", "lines": [{"component": "R-1", "qty_per": 1}]},
            {"parent": "FG-1", "lines": [{"component": "FG-1", "qty_per": 0, "extra": True}]},
            {"parent": "FG-1", "lines": []},
        ],
        "$.parents",
    )
    with pytest.raises(ImportRefused) as refused:
        replace_boms(catalog.service, rows)
    where = sorted(path for path, _ in errors_of(refused))
    assert where == [
        "$.parents[0].parent",
        "$.parents[1].lines[0].extra",
        "$.parents[1].lines[0].qty_per",
        "$.parents[2].lines",
    ]
    assert len(catalog.rows(schema.bom_lines)) == 2


# --- the catalog version ----------------------------------------------------------


def test_if_catalog_version_refuses_a_change_made_against_another_catalog(
    catalog: ShopFloor,
) -> None:
    current = version_of(catalog)
    rows = json_rows(items_payload({"part": "R-7"}), "$.items", ITEM_COLUMNS)
    with pytest.raises(ImportRefused) as refused:
        upsert_items(catalog.service, rows, if_catalog_version=current - 1)
    [(where, message)] = errors_of(refused)
    assert where == "$.if_catalog_version"
    assert f"at version {current}, not {current - 1}" in message
    assert "R-7" not in {row.part for row in catalog.rows(schema.items)}
    again = json_rows(items_payload({"part": "R-7"}), "$.items", ITEM_COLUMNS)
    applied = upsert_items(catalog.service, again, if_catalog_version=current)
    assert applied.catalog_version == current + 1


def meanwhile(action: Callable[[], None]) -> Callable[[str], None]:
    """Progress that runs ``action`` once, right after the first validation."""
    done: list[bool] = []

    def progress(message: str) -> None:
        if "validated" in message and not done:
            done.append(True)
            action()

    return progress


def test_a_change_landing_meanwhile_is_validated_against(catalog: ShopFloor) -> None:
    # Validated against a catalog where CUST-9 is free; meanwhile R-2 takes it.
    taking = json_rows(items_payload({"part": "R-2", "aliases": ["CUST-9"]}), "$.items",
                       ITEM_COLUMNS)  # fmt: skip
    rows = json_rows(items_payload({"part": "R-5", "aliases": ["CUST-9"]}), "$.items",
                     ITEM_COLUMNS)  # fmt: skip
    with pytest.raises(ImportRefused) as refused:
        upsert_items(
            catalog.service, rows, progress=meanwhile(lambda: upsert_items(catalog.service, taking))
        )
    assert errors_of(refused) == [("$.items[0].aliases", "alias 'CUST-9' already belongs to 'R-2'")]
    assert "R-5" not in {row.part for row in catalog.rows(schema.items)}


def test_an_unrelated_change_meanwhile_costs_a_second_validation(catalog: ShopFloor) -> None:
    other = json_rows(items_payload({"part": "R-6"}), "$.items", ITEM_COLUMNS)
    rows = json_rows(items_payload({"part": "R-5"}), "$.items", ITEM_COLUMNS)
    before = version_of(catalog)
    applied = upsert_items(
        catalog.service, rows, progress=meanwhile(lambda: upsert_items(catalog.service, other))
    )
    assert applied.validations == 2
    assert applied.catalog_version == before + 2
    assert {"R-5", "R-6"} <= {row.part for row in catalog.rows(schema.items)}


def test_a_bom_validated_before_a_phantom_change_is_checked_again(catalog: ShopFloor) -> None:
    # R-1 has reorder fields; a BOM makes an unstocked item a phantom, which may not have them.
    stocked = json_rows(items_payload({"part": "R-1", "stocked": True, "reorder_point": 5}),
                        "$.items", ITEM_COLUMNS)  # fmt: skip
    upsert_items(catalog.service, stocked)
    unstock = json_rows(items_payload({"part": "R-1", "stocked": False, "reorder_point": 5}),
                        "$.items", ITEM_COLUMNS)  # fmt: skip
    bom = json_bom_rows([{"parent": "R-1", "lines": [{"component": "R-2", "qty_per": 1}]}],
                        "$.parents")  # fmt: skip
    # Meanwhile R-1 is made unstocked while keeping its reorder fields (no BOM yet: allowed).
    with pytest.raises(ImportRefused) as refused:
        replace_boms(
            catalog.service, bom, progress=meanwhile(lambda: upsert_items(catalog.service, unstock))
        )
    [(where, message)] = errors_of(refused)
    assert where == "$.parents[0].parent"
    assert "phantom" in message


# --- opening stock ----------------------------------------------------------------


def write_stock(floor: ShopFloor, rows: list[tuple[str, str]]) -> Path:
    path = floor.workdir / "stock.csv"
    path.write_text("part,on_hand\n" + "".join(f"{p},{q}\n" for p, q in rows), encoding="utf-8")
    return path


def many_parts(floor: ShopFloor, count: int) -> list[str]:
    parts = [f"P-{index:04d}" for index in range(count)]
    items = "part,uom,reorder_point,reorder_qty\n" + "".join(
        f"{part},EA,{'5,10' if index == 7 else ','}\n" for index, part in enumerate(parts)
    )
    path = floor.workdir / "many-items.csv"
    path.write_text(items, encoding="utf-8")
    upsert_items(floor.service, read_csv(path, ITEM_COLUMNS, ("part",)))
    return parts


def test_opening_stock_goes_out_in_batches_with_a_gapless_seq(floor: ShopFloor) -> None:
    count = 2 * OPENING_PARTS_PER_EVENT + 50
    parts = many_parts(floor, count)
    # P-0007 opens at its reorder point: its own low-stock and reorder events follow.
    quantities = {part: "5" if part == "P-0007" else str(index + 1)
                  for index, part in enumerate(parts)}  # fmt: skip
    path = write_stock(floor, list(quantities.items()))
    rows = read_csv(path, STOCK_COLUMNS, STOCK_COLUMNS)
    applied = post_opening_stock(floor.service, rows, floor.clock.moment())
    assert applied.summary.rows == count
    events = floor.events()
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert [event["type"] for event in events] == [
        "opening-balances", "low-stock", "reorder", "opening-balances", "opening-balances",
    ]  # fmt: skip
    openings = [event for event in events if event["type"] == "opening-balances"]
    assert [(e["batch"], e["batches"], len(e["parts"])) for e in openings] == [
        (1, 3, OPENING_PARTS_PER_EVENT), (2, 3, OPENING_PARTS_PER_EVENT), (3, 3, 50),
    ]  # fmt: skip
    told = {row["part"]: row["on_hand"] for event in openings for row in event["parts"]}
    assert told == {part: D(quantity) for part, quantity in quantities.items()}
    assert all(row["uom"] == "EA" for event in openings for row in event["parts"])
    assert max(len(exactjson.dumps(event)) for event in events) < 128 * 1024
    for event in events:  # each as the contract (edge schema) describes it
        check_published(f"{TOPIC_PREFIX}/event/{event['type']}", event)
    # The ledger and balances stay per part; a transaction row per batch holds its event.
    assert sorted(floor.ledger()) == sorted((part, D(q)) for part, q in quantities.items())
    assert floor.balances() == {part: D(q) for part, q in quantities.items()}
    kinds = {row.kind for row in floor.rows(schema.ledger)}
    assert kinds == {"opening"}
    transactions = floor.transactions()
    assert [txn.event_id for txn in transactions] == [e["event_id"] for e in openings]
    assert len(floor.rows(schema.stock_state)) == count
    assert [reorder.part for reorder in floor.reorders()] == ["P-0007"]


def test_opening_stock_for_a_part_with_history_refuses_all(floor: ShopFloor) -> None:
    parts = many_parts(floor, 3)
    floor.count(parts[1], "4")
    before = table_rows(db_path(floor))
    path = write_stock(floor, [(part, "10") for part in parts])
    with pytest.raises(ImportRefused) as refused:
        post_opening_stock(floor.service, read_csv(path, STOCK_COLUMNS, STOCK_COLUMNS),
                           floor.clock.moment())  # fmt: skip
    [error] = refused.value.errors
    assert str(error).startswith("stock.csv:3:1 (part): 'P-0001' already has stock history")
    assert "edge count" in error.message
    assert table_rows(db_path(floor)) == before


def test_history_posted_meanwhile_is_seen_under_the_lock(floor: ShopFloor) -> None:
    parts = many_parts(floor, 3)
    path = write_stock(floor, [(part, "10") for part in parts])
    before_events = len(floor.events())
    with pytest.raises(ImportRefused) as refused:
        post_opening_stock(
            floor.service,
            read_csv(path, STOCK_COLUMNS, STOCK_COLUMNS),
            floor.clock.moment(),
            progress=meanwhile(lambda: floor.count(parts[2], "1")),
        )
    [error] = refused.value.errors
    assert error.where == "stock.csv:4:1 (part)"
    # Only the count landed (its event and its variance's: 1 found, nothing used); no
    # opening balance was posted.
    assert floor.balances() == {parts[2]: D(1)}
    assert [e["type"] for e in floor.events()[before_events:]] == ["count", "variance"]


def test_in_transaction_runs_in_the_same_commit(catalog: ShopFloor) -> None:
    seen: list[int] = []

    def answer(_inventory: object, uow: Any, version: int) -> None:
        seen.append(version)
        uow.connection.exec_driver_sql(
            "INSERT INTO counters (name, value) VALUES ('test-answer', ?)", (version,)
        )

    applied = upsert_items(
        catalog.service,
        json_rows(items_payload({"part": "R-4"}), "$.items", ITEM_COLUMNS),
        in_transaction=answer,
    )
    assert seen == [applied.catalog_version]
    values = {row.name: row.value for row in catalog.rows(schema.counters)}
    assert values["test-answer"] == applied.catalog_version
