"""Bad input through the ``edge`` command: exit 2, a message that says where, and nothing changed.

Each case starts from its own copy of the demo database (items, BOMs and
opening stock from ``edge/demo/data/``), writes its input files and runs one command
that must be refused. The test checks the exit code, that the message names the
file, line and column (CSV), the key (config) or the argument, that no
traceback was printed (every run checks that), and that every row of every
table is exactly as before: imports are all-or-nothing, and a refused scan
journals nothing. The cases are independent, so their processes run side by
side; each case is still its own test.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    CONFIG,
    DemoCatalog,
    Edge,
    copy_database,
    describe,
    make_edge,
    run_concurrently,
)

ITEMS = ("import", "items", "items.csv")
BOM = ("import", "bom", "bom.csv")
STOCK = ("import", "stock", "stock.csv")
SHIP = ("scan", "--station", "PACK-1", "FG-PUMP-100")


@dataclass(frozen=True)
class Refused:
    """One bad input: files to write, the command, and what its message must contain."""

    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    config: str = CONFIG


CASES = (
    # --- quantities: -?[0-9]+(.[0-9]{1,6})? and nothing else, never rounded ------------
    Refused(
        "items-quantity-with-exponent",
        ITEMS,
        ("items.csv:3:3 (reorder_point)", "'1e3'"),
        {
            "items.csv": "part,description,reorder_point,reorder_qty\n"
            "RM-NEW-1,New part 1,5,10\n"
            "RM-NEW-2,New part 2,1e3,10\n"
            "RM-NEW-3,New part 3,5,10\n"
        },
    ),
    Refused(
        "bom-quantity-with-decimal-comma",
        BOM,
        ("bom.csv:3:3 (qty_per)", "'1,5'"),
        {
            "bom.csv": "parent,component,qty_per,scrap_pct\n"
            "SA-MOTOR-100,RM-ROTOR,1,0\n"
            'SA-MOTOR-100,RM-STATOR,"1,5",0\n'
        },
    ),
    Refused(
        "items-quantity-with-seven-decimals",
        ITEMS,
        ("items.csv:2:2 (reorder_point)", "'0.1234567'"),
        {"items.csv": "part,reorder_point\nRM-GREASE,0.1234567\n"},
    ),
    Refused(
        "bom-quantity-zero",
        BOM,
        ("bom.csv:2:3 (qty_per)", "greater than 0"),
        {"bom.csv": "parent,component,qty_per\nSA-MOTOR-100,RM-ROTOR,0\n"},
    ),
    # --- the shape of the file ---------------------------------------------------------
    Refused(
        "items-unknown-column",
        ITEMS,
        ("items.csv:1:3 (colour)", "unknown column"),
        {"items.csv": "part,description,colour\nRM-NEW-1,New part,red\n"},
    ),
    Refused(
        "bom-missing-required-column",
        BOM,
        ("bom.csv:1", "qty_per", "missing"),
        {"bom.csv": "parent,component,scrap_pct\nSA-MOTOR-100,RM-ROTOR,0\n"},
    ),
    Refused(
        "items-not-utf8",
        ITEMS,
        ("items.csv:3002:", "not UTF-8"),
        {
            "items.csv": b"part,description\n"
            + b"".join(b"RM-NEW-%d,Part\n" % n for n in range(1, 3001))
            + b"RM-CAST,Geh\xe4use\n"  # Latin-1, deep enough to be past the first read
        },
    ),
    Refused(
        "import-missing-file",
        ("import", "items", "nowhere.csv"),
        ("nowhere.csv",),
    ),
    # --- items -------------------------------------------------------------------------
    Refused(
        "items-duplicate-part",
        ITEMS,
        ("items.csv:4:1 (part)", "first on line 2"),
        {"items.csv": "part,description\nRM-NEW-1,first\nRM-NEW-2,second\nRM-NEW-1,again\n"},
    ),
    Refused(
        "items-reorder-fields-on-phantom",
        ITEMS,
        ("items.csv:2:4 (reorder_point)", "phantom"),
        {"items.csv": "part,description,stocked,reorder_point\nPH-HOUSING,Housing kit,false,5\n"},
    ),
    Refused(
        "items-max-qty-not-above-reorder-point",
        ITEMS,
        ("items.csv:2:3 (max_qty)", "must exceed reorder_point"),
        {"items.csv": "part,reorder_point,max_qty\nRM-ROTOR,30,30\n"},
    ),
    Refused(
        "items-alias-is-another-part",
        ITEMS,
        ("items.csv:2:2 (aliases)", "'RM-ROTOR'"),
        {"items.csv": "part,aliases\nRM-NEW-1,RM-ROTOR\n"},
    ),
    Refused(
        "items-alias-belongs-to-another-part",
        ITEMS,
        ("items.csv:2:2 (aliases)", "'CUST-4711'", "'FG-PUMP-100'"),
        {"items.csv": "part,aliases\nRM-NEW-1,CUST-4711\n"},
    ),
    Refused(
        "items-gtin13-alias-is-another-parts-gtin14",
        ITEMS,
        ("items.csv:2:2 (aliases)", "'09506000134352'", "'FG-PUMP-100'"),
        {"items.csv": "part,aliases\nRM-NEW-1,9506000134352\n"},
    ),
    Refused(
        "items-same-alias-on-two-new-parts",
        ITEMS,
        ("items.csv:3:2 (aliases)", "'CUST-9'", "'RM-NEW-1'"),
        {"items.csv": "part,aliases\nRM-NEW-1,CUST-9\nRM-NEW-2,CUST-9\n"},
    ),
    # --- BOMs --------------------------------------------------------------------------
    Refused(
        "bom-duplicate-line",
        BOM,
        ("bom.csv:4:2 (component)", "first on line 2"),
        {
            "bom.csv": "parent,component,qty_per\n"
            "SA-MOTOR-100,RM-ROTOR,1\n"
            "SA-MOTOR-100,RM-STATOR,1\n"
            "SA-MOTOR-100,RM-ROTOR,2\n"
        },
    ),
    Refused(
        "bom-unknown-part",
        BOM,
        ("bom.csv:3:2 (component)", "'RM-NOPE'"),
        {"bom.csv": "parent,component,qty_per\nSA-MOTOR-100,RM-ROTOR,1\nSA-MOTOR-100,RM-NOPE,1\n"},
    ),
    Refused(
        "bom-cycle-names-the-cycle",
        BOM,
        ("bom.csv:3:2 (component)", "FG-PUMP-100 -> PH-HOUSING -> FG-PUMP-100"),
        {"bom.csv": "parent,component,qty_per\nPH-HOUSING,RM-GASKET,2\nPH-HOUSING,FG-PUMP-100,1\n"},
    ),
    Refused(
        "bom-would-make-a-reordered-item-a-phantom",
        BOM,
        ("bom.csv:2:1 (parent)", "'RM-ROTOR'", "stocked"),
        {"bom.csv": "parent,component,qty_per\nRM-ROTOR,RM-STATOR,1\n"},
    ),
    # --- opening stock -----------------------------------------------------------------
    Refused(
        "stock-opening-for-part-with-history",
        STOCK,
        ("stock.csv:2:1 (part)", "edge count"),
        {"stock.csv": "part,on_hand\nRM-ROTOR,3\n"},
    ),
    # --- scans and commands ------------------------------------------------------------
    Refused("scan-unknown-station", ("scan", "--station", "PACK-9", "FG-PUMP-100"), ("'PACK-9'",)),
    Refused("receive-unknown-part", ("receive", "RM-NOPE", "5"), ("'RM-NOPE'",)),
    Refused(
        "receive-qty-with-exponent",
        ("receive", "RM-ROTOR", "1e3"),
        ("the quantity '1e3' is not an exact decimal",),
    ),
    Refused(
        "build-qty-with-seven-decimals",
        ("build", "SA-MOTOR-100", "1.1234567"),
        ("the quantity '1.1234567' is not an exact decimal",),
    ),
    Refused("reorder-cancel-unknown", ("reorder", "cancel", "99"), ("99",)),
    Refused("scan-without-station", ("scan", "FG-PUMP-100"), ("--station",)),
    # --- malformed config (a write command must not run) --------------------------------
    Refused(
        "config-toml-syntax-error",
        SHIP,
        ("edge.toml", "line 3"),
        config='[site]\nid = "plant-1"\nnode = "pack-edge-01\n[database]\npath = "edge.db"\n',
    ),
    Refused(
        "config-unknown-key",
        SHIP,
        ("edge.toml", "database.min_free", "unknown key"),
        config=CONFIG.replace('path = "edge.db"\n', 'path = "edge.db"\nmin_free = 64\n'),
    ),
    Refused(
        "config-wrong-type",
        SHIP,
        ("edge.toml", "database.min_free_mb"),
        config=CONFIG.replace('path = "edge.db"\n', 'path = "edge.db"\nmin_free_mb = "64"\n'),
    ),
    Refused(
        "config-scanner-on-missing-station",
        SHIP,
        ("edge.toml", "scanner[1].station", "'PACK-9'"),
        config=CONFIG
        + '\n[[scanner]]\nid = "s-1"\nstation = "PACK-9"\nkind = "serial"\nurl = "loop://"\n',
    ),
)


@dataclass(frozen=True)
class Outcome:
    result: subprocess.CompletedProcess[str]
    before: dict[str, list[tuple[Any, ...]]]
    after: dict[str, list[tuple[Any, ...]]]


def run_case(case: Refused, folder: Path, catalog: Path) -> Outcome:
    floor = make_edge(folder, case.config)
    copy_database(catalog, floor.workdir)
    for name, content in case.files.items():
        floor.write(name, content)
    before = floor.snapshot()
    result = floor(*case.argv)
    return Outcome(result, before, floor.snapshot())


@pytest.fixture(scope="module")
def outcomes(
    demo_catalog: DemoCatalog, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("refused")
    results = run_concurrently([
        lambda case=case: run_case(case, root / case.id, demo_catalog.folder) for case in CASES
    ])  # fmt: skip
    return {case.id: outcome for case, outcome in zip(CASES, results, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2_says_where_and_changes_nothing(
    case: Refused, outcomes: dict[str, Outcome]
):
    outcome = outcomes[case.id]
    result = outcome.result
    assert result.returncode == 2, describe(result)
    assert result.stdout == "", describe(result)
    for fragment in case.expect:
        assert fragment in result.stderr, describe(result)
    assert outcome.before, "the case starts from the demo database"
    assert outcome.after == outcome.before


# --- all-or-nothing, as the user sees it ----------------------------------------------
@pytest.fixture(scope="module")
def demo_views(demo_catalog: DemoCatalog) -> tuple[Any, Any]:
    """`edge stock --json` and `edge events --json` of the untouched demo database."""
    floor = Edge(demo_catalog.folder)
    return tuple(floor.json_many(["stock"], ["events"]))


def test_items_file_with_one_bad_row_among_good_ones_imports_nothing(
    demo_edge: Edge, demo_views: tuple[Any, Any]
):
    demo_edge.write(
        "items.csv",
        "part,description,uom,reorder_point,reorder_qty\n"
        "RM-NEW-1,New part 1,EA,5,10\n"
        "RM-ROTOR,Rotor 100 W (renamed),EA,5,\n"
        "RM-NEW-2,New part 2,EA,5,10\n"
        "RM-NEW-3,New part 3,EA,5,-10\n"
        "RM-NEW-4,New part 4,EA,5,10\n",
    )
    result = demo_edge(*ITEMS)
    assert result.returncode == 2, describe(result)
    assert "items.csv:5:5 (reorder_qty)" in result.stderr
    assert "RM-NEW-1" not in result.stderr  # only the bad row is reported
    assert tuple(demo_edge.json_many(["stock"], ["events"])) == demo_views


def test_opening_stock_refused_for_one_part_posts_none_of_the_others(demo_edge: Edge):
    demo_edge.write("items.csv", "part,description\nRM-NEW-A,New A\nRM-NEW-B,New B\n")
    demo_edge.ok(*ITEMS)
    before = demo_edge.snapshot()
    # The good rows are posted first; the refusal on line 3 must take them back.
    demo_edge.write("stock.csv", "part,on_hand\nRM-NEW-A,5\nRM-ROTOR,3\nRM-NEW-B,4\n")
    result = demo_edge(*STOCK)
    assert result.returncode == 2, describe(result)
    assert "stock.csv:3:1 (part)" in result.stderr
    assert "edge count" in result.stderr
    assert demo_edge.snapshot() == before
    stock = {row["part"]: row["on_hand"] for row in demo_edge.json("stock")}
    assert stock["RM-NEW-A"] == stock["RM-NEW-B"] == 0


# --- a large import -----------------------------------------------------------------
def test_large_items_import_reports_progress_on_stderr_and_succeeds(edge: Edge):
    rows = ["part,description,uom,reorder_point,reorder_qty,aliases"]
    rows += [f"P-{n:05d},Part {n},EA,{n % 7}.5,{5 + n % 3},ALIAS-{n:05d}" for n in range(1, 6001)]
    edge.write("items.csv", "\n".join(rows) + "\n")
    result = edge.ok(*ITEMS)
    assert "6000 items: 6000 added, 0 updated" in result.stdout
    assert "items.csv: 5000 rows" in result.stderr  # progress, on stderr only
    assert "rows read" not in result.stdout
    items = edge.snapshot()["items"]
    assert len(items) == 6000
