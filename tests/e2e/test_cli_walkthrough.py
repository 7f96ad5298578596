"""The README walk-through, run as a user runs it: the real ``edge`` command, one process a step.

The demo data of ``edge/demo/data/`` is imported, parts are shipped and scrapped by
hand at stations, and every view (stock, scan journal, event outbox,
reorders) is read back through ``--json`` and checked value for value, with
quantities parsed as exact decimals.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    CONFIG,
    DEMO_DATA,
    NODE,
    PREFIX,
    SITE,
    DemoCatalog,
    Edge,
    copy_database,
    describe,
    make_edge,
    parse_exact,
    run_concurrently,
    run_edge,
    table_rows,
)

RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,}(Z|\+00:00)")
D = Decimal

# Opening stock of edge/demo/data/stock.csv and the events the opening transaction writes:
# one opening-balances event with all 13 parts, then PK-BOX-S (3, reorder point 15) fires
# low-stock and a reorder for 40 (reorder_qty 40, order_multiple 20).
OPENING_EVENTS = 3


def number(value: object) -> Decimal:
    """A JSON number (never a string, never a bool) as an exact Decimal."""
    assert isinstance(value, int | Decimal), f"{value!r} is not a JSON number"
    assert not isinstance(value, bool), f"{value!r} is not a JSON number"
    return Decimal(value)


def stock_by_part(rows: list[dict]) -> dict[str, dict]:
    return {row["part"]: row for row in rows}


# --- importing ------------------------------------------------------------------------
def test_readme_imports_of_the_demo_data_succeed_and_report_counts(demo_catalog: DemoCatalog):
    imports = demo_catalog.imports
    assert "17 items: 17 added, 0 updated" in imports["items"].stdout
    assert "19 BOM lines for 5 parents" in imports["bom"].stdout
    assert "13 opening balances" in imports["stock"].stdout


def test_importing_items_again_updates_and_adds_nothing(demo_edge: Edge):
    result = demo_edge.ok("import", "items", str(DEMO_DATA / "items.csv"))
    assert "17 items: 0 added, 17 updated" in result.stdout


# --- a shift of scans, read back through every view -----------------------------------
SHIFT = (
    # (station, codes, exit code); the first two are the README's first session.
    ("PACK-1", ["09506000134352", "QTY:2", "FG-PUMP-100"], 0),  # 1 + 2 x FG-PUMP-100
    ("SCRAP-1", ["RSN:DAMAGED", "RM-IMPELLER"], 0),
    ("PACK-1", ["NOT-A-PART"], 1),
    ("SCRAP-1", ["RSN:TEST", "RM-GREASE", "NOPE"], 1),  # two accepted, then one rejected
)
# FG-PUMP-100 per unit: PH-HOUSING is exploded through, SA-MOTOR-100 is stocked.
PUMP_100_LINES = (
    ("PK-BOX-S", "1"),
    ("RM-GASKET", "2"),
    ("RM-HOUSING-CAST", "1"),
    ("RM-IMPELLER", "1.02"),  # 1 x (1 + 2 %)
    ("RM-SCREW-M4", "6.09"),  # 6 x (1 + 1.5 %)
    ("SA-MOTOR-100", "1"),
)


@dataclass(frozen=True)
class Shift:
    """The demo database after the scans of SHIFT, and what each view showed then."""

    scans: list[subprocess.CompletedProcess[str]]
    stock: subprocess.CompletedProcess[str]
    journal: list[dict]
    newest_five: list[dict]
    events: list[dict]
    tables: list[subprocess.CompletedProcess[str]]
    floor: Edge


@pytest.fixture(scope="module")
def shift(demo_catalog: DemoCatalog, tmp_path_factory: pytest.TempPathFactory) -> Shift:
    floor = make_edge(tmp_path_factory.mktemp("shift"))
    copy_database(demo_catalog.folder, floor.workdir)
    scans = [floor("scan", "--station", station, *codes) for station, codes, _ in SHIFT]
    views = run_concurrently([
        lambda: floor.ok("stock", "--json"),
        lambda: floor.json("scans"),
        lambda: floor.json("scans", "--limit", "5"),
        lambda: floor.json("events"),
        lambda: floor.ok("stock"),
        lambda: floor.ok("events", "--pending"),
        lambda: floor.ok("scans", "--limit", "5"),
    ])  # fmt: skip
    return Shift(scans, *views[:4], tables=views[4:], floor=floor)


def test_scan_exits_0_when_all_accepted_and_1_when_any_rejected(shift: Shift):
    results = shift.scans
    for (_, _, expected), result in zip(SHIFT, results, strict=True):
        assert result.returncode == expected, describe(result)
    first = results[0].stdout.splitlines()
    assert [line.split()[:3] for line in first] == [
        ["ACCEPTED", "scan", "1"],
        ["ACCEPTED", "scan", "2"],
        ["ACCEPTED", "scan", "3"],
    ]
    assert re.search(r"REJECTED\s+scan 6 unknown-part", results[2].stdout)
    # Every code of one command is its own scan: the good ones before a reject commit.
    scrap = results[3].stdout.splitlines()
    assert [line.split()[0] for line in scrap] == ["ACCEPTED", "ACCEPTED", "REJECTED"]


def test_scan_applies_no_debounce_and_journals_a_rejected_code(demo_edge: Edge):
    result = demo_edge("scan", "--station", "PACK-1", "RM-ROTOR", "RM-ROTOR", "QTY:1e3")
    assert result.returncode == 1, describe(result)
    journal, stock = demo_edge.json_many(["scans"], ["stock"])
    assert [(scan["code"], scan["status"]) for scan in journal] == [
        ("QTY:1e3", "rejected"),  # not a quantity: refused, never rounded
        ("RM-ROTOR", "accepted"),  # manual entry: the same code twice is meant twice
        ("RM-ROTOR", "accepted"),
    ]
    assert number(stock_by_part(stock)["RM-ROTOR"]["on_hand"]) == 6


def test_readme_views_print_tables_for_people(shift: Shift):
    stock, pending, scans = (result.stdout for result in shift.tables)
    # on hand, on order, position (on hand + on order), uom, state
    assert re.search(r"RM-GREASE\s+-0\.25\s+2\.25\s+2\s+KG\s+negative", stock)
    assert "FG-PUMP-100" not in stock  # a phantom holds no stock
    assert f"{len(shift.events)} events" in pending
    assert "NOPE" in scans
    assert "NOT-A-PART" in scans
    assert "FG-PUMP-100" not in scans  # scan 3, older than the newest five


def test_stock_json_has_exact_decimals_and_states_after_the_shift(shift: Shift):
    result = shift.stock
    rows = parse_exact(result.stdout)
    assert [row["part"] for row in rows] == sorted(row["part"] for row in rows)
    # Phantoms (FG-PUMP-*, FG-FAN-10, PH-HOUSING) hold no stock and are not listed.
    expected = {
        # part: (on_hand, on_order, reorder_point, state)
        "PK-BOX-S": ("0", "40", "15", "low"),
        "RM-BEARING": ("45", "0", "40", "ok"),
        "RM-CABLE": ("15", "0", "10", "ok"),
        "RM-CLIP": ("200", "0", "20", "ok"),  # kanban: refilled by its cards, never reordered
        "RM-GASKET": ("18", "50", "20", "low"),  # 24 - 3 x 2
        "RM-GREASE": ("-0.25", "2.25", "0.5", "negative"),  # 0.75 - 1 scrapped
        "RM-HOUSING-CAST": ("11", "0", "10", "ok"),
        "RM-IMPELLER": ("7.94", "20", "10", "low"),  # 12 - 3 x 1.02 - 1 scrapped
        "RM-ROTOR": ("8", "0", "5", "ok"),
        "RM-SCREW-M4": ("211.73", "0", "200", "ok"),  # 230 - 3 x 6.09
        "RM-SEAL-CORD": ("40", "0", "10", "ok"),
        "RM-STATOR": ("8", "0", "5", "ok"),
        "SA-MOTOR-100": ("3", "9", "4", "low"),  # stocked: issued as itself; max 12 - 3
    }
    got = {
        row["part"]: (
            number(row["on_hand"]),
            number(row["on_order"]),
            number(row["reorder_point"]),
            row["state"],
        )
        for row in rows
    }
    assert got == {
        part: (D(on_hand), D(on_order), D(point), state)
        for part, (on_hand, on_order, point, state) in expected.items()
    }
    # The literals are the normalized exact decimals, never a float's digits.
    for literal in ('"on_hand":7.94', '"on_hand":-0.25', '"on_order":2.25', '"on_hand":0,'):
        assert literal in result.stdout.replace(" ", "")


def test_scans_json_is_the_journal_newest_first_with_every_field(shift: Shift):
    rows = shift.journal
    expected = [
        (1, "PACK-1", "09506000134352", "accepted", None),
        (2, "PACK-1", "QTY:2", "accepted", None),
        (3, "PACK-1", "FG-PUMP-100", "accepted", None),
        (4, "SCRAP-1", "RSN:DAMAGED", "accepted", None),
        (5, "SCRAP-1", "RM-IMPELLER", "accepted", None),
        (6, "PACK-1", "NOT-A-PART", "rejected", "unknown-part"),
        (7, "SCRAP-1", "RSN:TEST", "accepted", None),
        (8, "SCRAP-1", "RM-GREASE", "accepted", None),
        (9, "SCRAP-1", "NOPE", "rejected", "unknown-part"),
    ]
    got = [
        (row["scan_id"], row["station"], row["code"], row["status"], row["reason"]) for row in rows
    ]
    assert got == expected[::-1]
    assert {row["scanner"] for row in rows} == {"cli"}
    for row in rows:
        assert RFC3339_MS.fullmatch(row["at"]), row["at"]
    assert [row["at"] for row in rows] == sorted((row["at"] for row in rows), reverse=True)


def test_scans_limit_keeps_the_newest(shift: Shift):
    assert [row["scan_id"] for row in shift.newest_five] == [9, 8, 7, 6, 5]
    assert shift.newest_five == shift.journal[:5]


def test_events_json_carries_the_envelope_and_a_gapless_seq(shift: Shift):
    rows = shift.events
    assert all(set(row) >= {"topic", "published", "payload"} for row in rows)
    payloads = [row["payload"] for row in rows]
    assert [p["seq"] for p in payloads] == list(range(1, len(payloads) + 1))
    assert len({p["event_id"] for p in payloads}) == len(payloads)
    for row in rows:
        payload = row["payload"]
        assert row["published"] is False  # no relay has run
        assert row["topic"] == f"{PREFIX}/event/{payload['type']}"
        assert payload["site"] == SITE
        assert payload["node"] == NODE
        assert isinstance(payload["schema"], str)
        assert payload["schema"]
        assert isinstance(payload["boot"], int)
        assert not isinstance(payload["boot"], bool)
        assert RFC3339_MS.fullmatch(payload["occurred_at"]), payload["occurred_at"]
    types = [p["type"] for p in payloads]
    assert types[:OPENING_EVENTS] == ["opening-balances", "low-stock", "reorder"]
    opening = payloads[0]
    assert (opening["batch"], opening["batches"]) == (1, 1)
    assert len(opening["parts"]) == 13
    assert {"part": "PK-BOX-S", "on_hand": 3, "uom": "EA"} in opening["parts"]
    # Then one transaction after another; within one: its own event, then low-stock,
    # then reorder events (SPEC 5). Shipping 2 more pumps takes SA-MOTOR-100,
    # RM-GASKET and RM-IMPELLER to their reorder points; RM-GREASE goes negative.
    assert types[OPENING_EVENTS:] == [
        "backflush",
        "backflush",
        *["low-stock"] * 3,
        *["reorder"] * 3,
        "scrap",
        "scan-rejected",
        "scrap",
        "low-stock",
        "reorder",
        "scan-rejected",
    ]


def test_events_json_backflush_scrap_and_negative_stock_payloads(shift: Shift):
    payloads = [row["payload"] for row in shift.events]
    by_type: dict[str, list[dict]] = {}
    for payload in payloads:
        by_type.setdefault(payload["type"], []).append(payload)

    one, two = by_type["backflush"]
    assert (one["part"], number(one["quantity"])) == ("FG-PUMP-100", 1)  # by its GTIN
    assert (one["station"], one["scanner"], one["scan_id"]) == ("PACK-1", "cli", 1)
    assert [(line["part"], number(line["quantity"])) for line in one["lines"]] == [
        (part, D(quantity)) for part, quantity in PUMP_100_LINES
    ]
    canonical = "[" + ",".join(f"[{json.dumps(p)},{q}]" for p, q in PUMP_100_LINES) + "]"
    assert one["bom_hash"] == hashlib.sha256(canonical.encode()).hexdigest()

    assert (two["part"], number(two["quantity"]), two["scan_id"]) == ("FG-PUMP-100", 2, 3)
    assert [(line["part"], number(line["quantity"])) for line in two["lines"]] == [
        (part, 2 * D(quantity)) for part, quantity in PUMP_100_LINES
    ]
    assert two["bom_hash"] == one["bom_hash"]  # the same structure per unit

    scraps = [
        (p["part"], number(p["quantity"]), p["reason"], p["station"], p["scan_id"])
        for p in by_type["scrap"]
    ]
    assert scraps == [
        ("RM-IMPELLER", 1, "DAMAGED", "SCRAP-1", 5),
        ("RM-GREASE", 1, "TEST", "SCRAP-1", 8),
    ]
    assert [
        [(line["part"], number(line["quantity"])) for line in p["lines"]] for p in by_type["scrap"]
    ] == [
        [("RM-IMPELLER", 1)],
        [("RM-GREASE", 1)],
    ]

    [negative] = [p for p in by_type["low-stock"] if p["part"] == "RM-GREASE"]
    assert negative["negative"] is True
    assert number(negative["on_hand"]) == D("-0.25")
    assert number(negative["reorder_point"]) == D("0.5")
    assert {p["part"]: p["negative"] for p in by_type["low-stock"][1:4]} == {
        "RM-GASKET": False,
        "RM-IMPELLER": False,
        "SA-MOTOR-100": False,
    }
    orders = {p["part"]: number(p["quantity"]) for p in by_type["reorder"]}
    assert orders == {
        "PK-BOX-S": D(40),  # at opening: 3 + 40 > 15, a multiple of 20
        "SA-MOTOR-100": D(9),  # max 12 - 3
        "RM-GASKET": D(50),
        "RM-IMPELLER": D(20),
        "RM-GREASE": D("2.25"),  # max 2 - (-0.25), a multiple of 0.25
    }
    assert [p["reorder_id"] for p in by_type["reorder"]] == [1, 2, 3, 4, 5]

    rejected = [(p["scan_id"], p["code"], p["reason"]) for p in by_type["scan-rejected"]]
    assert rejected == [(6, "NOT-A-PART", "unknown-part"), (9, "NOPE", "unknown-part")]


def test_events_pending_lists_only_unpublished_events(shift: Shift, tmp_path: Path):
    # A copy of the database where the first five events were published.
    published = make_edge(tmp_path / "published")
    copy_database(shift.floor.workdir, published.workdir)
    connection = sqlite3.connect(published.database)
    with connection:
        connection.execute(
            "UPDATE outbox SET published_at = '2026-03-02T06:00:00.000Z' WHERE seq <= 5"
        )
    connection.close()
    everything, pending, table = run_concurrently([
        lambda: published.json("events"),
        lambda: published.json("events", "--pending"),
        lambda: published.ok("events", "--pending").stdout,
    ])  # fmt: skip
    assert [row["published"] for row in everything[:6]] == [True] * 5 + [False]
    assert [row["payload"]["seq"] for row in pending] == list(range(6, len(everything) + 1))
    assert all(row["published"] is False for row in pending)
    assert f"{len(pending)} events" in table


# --- receipts, reorders, counts and builds ---------------------------------------------
def test_receive_count_cancel_and_build_update_stock_reorders_and_events(demo_edge: Edge):
    floor = demo_edge
    [order] = floor.json("reorders")
    assert order["reorder_id"] == 1
    assert order["part"] == "PK-BOX-S"
    assert (number(order["ordered"]), number(order["received"])) == (40, 0)
    assert (number(order["outstanding"]), order["status"]) == (40, "open")

    # Without --reorder a receipt fills the part's open reorders, oldest first.
    result = floor.ok("receive", "PK-BOX-S", "15")
    assert "on hand 18, on order 25" in result.stdout
    floor.ok("receive", "PK-BOX-S", "25", "--reorder", "1")
    # A count sets on hand; 19.5 is at or below RM-GASKET's point of 20: reorder 2.
    result = floor.ok("count", "RM-GASKET", "19.5")
    assert "variance -4.5" in result.stdout
    floor.ok("reorder", "cancel", "2")
    result = floor.ok("build", "SA-MOTOR-100", "2")
    assert "built 2 x SA-MOTOR-100" in result.stdout

    still_open, closed, stock_rows, event_rows = floor.json_many(
        ["reorders"], ["reorders", "--all"], ["stock"], ["events"]
    )
    assert still_open == []
    assert [(r["reorder_id"], r["part"], r["status"], r["close_reason"]) for r in closed] == [
        (1, "PK-BOX-S", "closed", "received"),
        (2, "RM-GASKET", "closed", "cancelled"),
    ]
    assert [number(r["received"]) for r in closed] == [40, 0]
    assert [number(r["ordered"]) for r in closed] == [40, 50]

    stock = stock_by_part(stock_rows)
    expected = {
        "PK-BOX-S": ("43", "0", "ok"),  # 3 + 15 + 25
        "RM-GASKET": ("19.5", "0", "low"),
        "SA-MOTOR-100": ("8", "0", "ok"),  # 6 + 2 built
        "RM-ROTOR": ("6", "0", "ok"),
        "RM-STATOR": ("6", "0", "ok"),
        "RM-BEARING": ("41", "0", "ok"),
        "RM-CABLE": ("13.47", "0", "ok"),  # 15 - 2 x 0.75 x 1.02
        "RM-GREASE": ("0.7225", "0", "ok"),  # 0.75 - 2 x 0.0125 x 1.1
        "RM-SCREW-M4": ("221.88", "0", "ok"),  # 230 - 2 x 4 x 1.015
    }
    for part, (on_hand, on_order, state) in expected.items():
        row = stock[part]
        assert (number(row["on_hand"]), number(row["on_order"]), row["state"]) == (
            D(on_hand),
            D(on_order),
            state,
        ), part

    events = [row["payload"] for row in event_rows][OPENING_EVENTS:]
    assert [e["type"] for e in events] == [
        "receipt",
        "receipt",
        "reorder-closed",
        "count",
        "variance",
        "low-stock",
        "reorder",
        "reorder-closed",
        "build",
    ]
    receipt_1, receipt_2, closed_1, count, variance, low, reorder, closed_2, build = events
    assert (receipt_1["part"], number(receipt_1["quantity"])) == ("PK-BOX-S", 15)
    assert (number(receipt_1["on_hand"]), number(receipt_1["on_order"])) == (18, 25)
    assert (receipt_2["reorder_id"], number(receipt_2["on_order"])) == (1, 0)
    assert (closed_1["reorder_id"], closed_1["part"], closed_1["reason"]) == (
        1,
        "PK-BOX-S",
        "received",
    )
    assert count["part"] == "RM-GASKET"
    assert (number(count["counted"]), number(count["previous_on_hand"])) == (D("19.5"), 24)
    assert number(count["variance"]) == D("-4.5")
    # 4.5 short with nothing used since the opening: beyond any tolerance.
    assert (variance["part"], variance["consumed"], variance["variance_pct"]) == (
        "RM-GASKET", 0, None,
    )  # fmt: skip
    assert (low["part"], low["negative"], number(low["on_hand"])) == ("RM-GASKET", False, 19.5)
    assert (reorder["reorder_id"], reorder["part"], number(reorder["quantity"])) == (
        2,
        "RM-GASKET",
        50,
    )
    assert (closed_2["reorder_id"], closed_2["reason"]) == (2, "cancelled")
    assert (build["part"], number(build["quantity"])) == ("SA-MOTOR-100", 2)
    assert {line["part"]: number(line["quantity"]) for line in build["lines"]} == {
        "RM-BEARING": D(4),
        "RM-CABLE": D("1.53"),
        "RM-GREASE": D("0.0275"),
        "RM-ROTOR": D(2),
        "RM-SCREW-M4": D("8.12"),
        "RM-STATOR": D(2),
    }


# --- exact decimals down the levels ----------------------------------------------------
EXACT_ITEMS = """\
part,description,uom,stocked,reorder_point,reorder_qty
FG-X,Finished part,EA,false,,
SUB-X,Phantom level,EA,false,,
RM-FINE,Fine powder,KG,false,0.6,1
RM-TENTH,Tenths,EA,false,,
RM-NONE,Never received,EA,false,1,5
"""
EXACT_BOM = """\
parent,component,qty_per,scrap_pct
FG-X,SUB-X,0.311,0
SUB-X,RM-FINE,0.0275,0
FG-X,RM-TENTH,0.1,0
FG-X,RM-NONE,1,0
"""
EXACT_STOCK = """\
part,on_hand
RM-FINE,1
RM-TENTH,5.1
"""


def test_quantities_stay_exact_from_csv_through_backflush_to_json(edge: Edge):
    edge.write("items.csv", EXACT_ITEMS)
    edge.write("bom.csv", EXACT_BOM)
    edge.write("stock.csv", EXACT_STOCK)
    for kind in ("items", "bom", "stock"):
        edge.ok("import", kind, f"{kind}.csv")
    # 51 x 0.311 x 0.0275 = 0.4361775 of RM-FINE; 51 x 0.1 = 5.1 of RM-TENTH.
    edge.ok("scan", "--station", "PACK-1", "QTY:51", "FG-X")

    stock, event_rows = run_concurrently(
        [lambda: edge.literals("stock"), lambda: edge.json("events")]
    )
    literals = {row["part"]: row for row in stock}
    assert literals["RM-FINE"]["on_hand"] == "0.5638225"
    assert literals["RM-TENTH"]["on_hand"] == "0"  # exactly 0: not 0.0, -0 or 1E-16
    assert literals["RM-NONE"]["on_hand"] == "-51"
    assert literals["RM-FINE"]["reorder_point"] == "0.6"
    assert literals["RM-TENTH"]["reorder_point"] is None
    assert {part: row["state"] for part, row in literals.items()} == {
        "RM-FINE": "low",
        "RM-NONE": "negative",
        "RM-TENTH": "no-reorder-point",
    }

    payloads = [row["payload"] for row in event_rows]
    [backflush] = [p for p in payloads if p["type"] == "backflush"]
    assert {line["part"]: line["quantity"] for line in backflush["lines"]} == {
        "RM-FINE": D("0.4361775"),
        "RM-NONE": 51,
        "RM-TENTH": D("5.1"),
    }


# --- backup ----------------------------------------------------------------------------
def test_backup_is_a_consistent_copy_including_rows_still_in_the_wal(demo_edge: Edge):
    floor = demo_edge
    # A reader holds the database open, so the scan's commit stays in the -wal file
    # when `edge scan` exits (the last connection to close would checkpoint it).
    reader = sqlite3.connect(floor.database)
    try:
        reader.execute("PRAGMA wal_autocheckpoint = 0")
        reader.execute("SELECT count(*) FROM scans").fetchone()
        floor.ok("scan", "--station", "PACK-1", "FG-PUMP-100")
        wal = floor.database.with_name(floor.database.name + "-wal")
        assert wal.stat().st_size > 0

        # The .db file alone does not hold the scan yet: copying it is not a backup.
        plain = floor.workdir / "plain-copy.db"
        plain.write_bytes(floor.database.read_bytes())
        assert table_rows(plain)["scans"] == []

        result = floor.ok("backup", "backup.db")
        assert "backup.db" in result.stdout
        live = table_rows(floor.database)
    finally:
        reader.close()
    copy = table_rows(floor.workdir / "backup.db")
    assert copy == live
    assert len(copy["scans"]) == 1
    check = sqlite3.connect(floor.workdir / "backup.db")
    try:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        check.close()


def test_backup_refuses_to_overwrite_an_existing_file(demo_edge: Edge):
    target = demo_edge.write("taken.db", b"not a database")
    result = demo_edge("backup", "taken.db")
    assert result.returncode != 0, describe(result)
    assert "taken.db" in result.stderr
    assert target.read_bytes() == b"not a database"


# --- config, help and demo --------------------------------------------------------------
def test_check_config_prints_the_settings_with_the_password_masked(edge: Edge):
    secret = "s3cret-Pa55word"
    password = edge.write("mqtt-password", secret + "\n")
    password.chmod(0o600)
    mqtt = (
        '[mqtt]\nhost = "broker.local"\nprotocol = "3.1.1"\n'
        'username = "edge"\npassword_file = "mqtt-password"\n\n'
    )
    edge.config.write_text(CONFIG.replace("[[station]]", mqtt + "[[station]]", 1))

    result = edge.ok("check-config")
    assert secret not in result.stdout
    assert secret not in result.stderr
    assert "********" in result.stdout
    assert "mqtt.protocol" in result.stderr  # MQTT 3.1.1 cannot see a refused publish
    settings = tomllib.loads(result.stdout)  # the output is the effective config, as TOML
    assert settings["site"] == {"id": SITE, "node": NODE}
    assert settings["mqtt"]["host"] == "broker.local"
    assert [station["id"] for station in settings["station"]] == ["PACK-1", "SCRAP-1", "BUILD-1"]


EXPECTED_COMMANDS = (
    "run",
    "devices",
    "demo",
    "import",
    "scan",
    "stock",
    "scans",
    "events",
    "receive",
    "count",
    "build",
    "reorders",
    "cards",
    "reorder",
    "check-config",
    "backup",
)


def test_help_lists_every_command(edge: Edge):
    result = edge.ok("--help")
    listed = {
        match[1] for match in re.finditer(r"^\s{2,}([a-z][a-z-]*)\s{2,}\S", result.stdout, re.M)
    }
    assert set(EXPECTED_COMMANDS) <= listed, result.stdout


def test_config_option_works_before_and_after_the_command(demo_edge: Edge):
    config = str(demo_edge.config)
    # $EDGE_CONFIG is unset: only the option can name the config.
    after, before = run_concurrently([
        lambda: run_edge(["stock", "--json", "--config", config], cwd=Path("/"), config=None),
        lambda: run_edge(["--config", config, "stock", "--json"], cwd=Path("/"), config=None),
    ])  # fmt: skip
    for result in (after, before):
        assert result.returncode == 0, describe(result)
    assert len(parse_exact(after.stdout)) == 13
    assert parse_exact(before.stdout) == parse_exact(after.stdout)


def test_without_any_config_the_default_path_is_named_and_exit_is_2(tmp_path: Path):
    result = run_edge(["stock"], cwd=tmp_path, config=None)
    assert result.returncode == 2, describe(result)
    assert "/etc/backflush-edge/edge.toml" in result.stderr


def test_demo_runs_without_config_or_hardware_and_shows_stock_and_events(tmp_path: Path):
    result = run_edge(["demo"], cwd=tmp_path, config=None, extra_env={"TMPDIR": str(tmp_path)})
    assert result.returncode == 0, describe(result)
    assert "== Stock" in result.stdout
    assert "== Events" in result.stdout
    assert "PK-BOX-S" in result.stdout
    assert re.search(r"\d+ events .* backflush/demo-plant/demo-edge/", result.stdout)
    assert list(tmp_path.iterdir()) == []  # its temporary database is removed
