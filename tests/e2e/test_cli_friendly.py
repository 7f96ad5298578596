"""The command line as a person meets it: start-up, help, mistakes and the words it answers with.

Every check runs the real ``edge`` command in a subprocess (tests/e2e/conftest.py),
except the ones that ask which modules a command imported, which run the same
``main`` in a fresh interpreter and print ``sys.modules``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli.main import COMMANDS, build_parser
from hardware.bindings import NO_INPUT_DIR
from tests.e2e.conftest import CALL_TIMEOUT_S, REPO, Edge, describe

HEAVY = ("sqlalchemy", "biip", "paho", "alembic", "serial", "evdev")

# Runs main(argv) and prints which of HEAVY it loaded; main's exit is not the point here.
IMPORTS_PROBE = """
import json, sys
from edge.cli.main import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
sys.stdout.flush()
heavy = set(json.loads(sys.argv[2]))
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & heavy)), file=sys.stderr)
"""


def loaded_heavy_modules(argv: list[str], config: Path | None = None) -> list[str]:
    env = {"PATH": "/usr/bin:/bin"} | ({"EDGE_CONFIG": str(config)} if config else {})
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS_PROBE, json.dumps(argv), json.dumps(HEAVY)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT_S,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    modules: list[str] = json.loads(result.stderr.strip().splitlines()[-1])
    return modules


# --- start-up: only what the command needs is imported ----------------------------------------
def test_help_imports_none_of_the_commands_dependencies():
    assert loaded_heavy_modules(["--help"]) == []
    assert loaded_heavy_modules(["stock", "--help"]) == []


def test_read_commands_query_without_sqlalchemy(demo_edge: Edge):
    for argv in (["stock"], ["events", "--pending"], ["scans", "--limit", "3"], ["reorders"]):
        assert loaded_heavy_modules(argv, demo_edge.config) == [], argv


def test_a_write_command_still_loads_the_store(demo_edge: Edge):
    # The probe can tell: a receive goes through SQLAlchemy's unit of work.
    assert "sqlalchemy" in loaded_heavy_modules(["receive", "RM-ROTOR", "1"], demo_edge.config)


# --- help -------------------------------------------------------------------------------------
def every_argument() -> list[tuple[str, str, str | None]]:
    """(command, argument, help) of every argument of every command, -h excepted."""
    found = []
    parser = build_parser()
    pending = [("edge", parser)]
    while pending:
        name, current = pending.pop()
        for action in current._actions:
            if action.dest in {"help", "version"}:
                continue
            if action.choices and isinstance(action.choices, dict):  # subcommands
                pending.extend((f"{name} {key}", child) for key, child in action.choices.items())
                continue
            found.append((name, "/".join(action.option_strings) or action.dest, action.help))
    return found


def test_every_argument_of_every_command_has_an_example():
    arguments = every_argument()
    assert len(arguments) > 30  # every command, not the first level only
    missing = [(command, name) for command, name, text in arguments if "e.g." not in (text or "")]
    assert missing == []


def test_every_command_in_the_table_answers_help(edge: Edge):
    names = [command.name for command in COMMANDS]
    results = [edge(name, "--help") for name in names]
    for name, result in zip(names, results, strict=True):
        assert result.returncode == 0, describe(result)
        assert result.stdout.startswith(f"usage: edge {name}"), describe(result)


def test_scan_help_shows_the_station_as_required(edge: Edge):
    result = edge.ok("scan", "--help")
    usage = " ".join(result.stdout.split("\n\n")[0].split())
    assert "--station ID CODE" in usage  # not "[--station ID]"
    assert "[--station" not in usage
    assert (
        "required options:\n"
        "  --station ID   (required) the station scanning, e.g. --station PACK-1\n"
    ) in result.stdout


# --- mistakes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("stcok",), "edge stcok: unknown command; did you mean 'stock'?\n"),
        (("evnets", "--json"), "edge evnets: unknown command; did you mean 'events'?\n"),
        (
            ("reorder", "cancle", "1"),
            "edge reorder cancle: unknown command; did you mean 'cancel'?\n",
        ),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(edge: Edge, argv: tuple[str, ...], message: str):
    result = edge(*argv)
    assert result.returncode == 2, describe(result)
    assert result.stderr == message
    assert result.stdout == ""


def test_a_mistyped_choice_gets_a_suggestion_too(edge: Edge):
    result = edge("import", "itmes", "items.csv")
    assert result.returncode == 2, describe(result)
    assert result.stderr.endswith(
        "edge import: error: argument kind: 'itmes': did you mean 'items'?\n"
    )
    far = edge("import", "routings", "items.csv")
    assert far.returncode == 2, describe(far)
    assert "invalid choice: 'routings' (choose from 'items', 'bom', 'stock', 'cards')" in far.stderr


def test_a_command_like_nothing_known_lists_the_commands(edge: Edge):
    result = edge("xyzzy")
    assert result.returncode == 2, describe(result)
    assert result.stderr.startswith("edge xyzzy: unknown command (one of: run, devices, demo,")


@pytest.mark.parametrize("command", ["scans", "events"])
def test_limit_refuses_a_negative_number(demo_edge: Edge, command: str):
    result = demo_edge(command, "--limit", "-2")
    assert result.returncode == 2, describe(result)
    assert "argument --limit: '-2' is negative; give 0 or more, e.g. 20" in result.stderr
    assert result.stdout == ""


def test_events_limit_keeps_the_newest_in_seq_order(demo_edge: Edge):
    everything, newest, none, pending = demo_edge.json_many(
        ["events"], ["events", "--limit", "2"], ["events", "--limit", "0"],
        ["events", "--pending", "--limit", "2"],
    )  # fmt: skip
    # The demo's opening stock is 3 events (opening-balances, low-stock, reorder).
    assert len(everything) > 2
    assert newest == everything[-2:]
    assert none == []
    assert pending == [event for event in everything if not event["published"]][-2:]
    table = demo_edge.ok("events", "--limit", "1").stdout.splitlines()
    assert len(table) == 3  # header, rule, the newest event
    assert table[2].split()[0] == str(everything[-1]["payload"]["seq"])


# --- words ------------------------------------------------------------------------------------
def test_a_missing_csv_is_named_by_its_full_path_without_a_line(edge: Edge):
    result = edge("import", "items", "no-such-items.csv")
    assert result.returncode == 2, describe(result)
    full = edge.workdir / "no-such-items.csv"
    assert result.stderr == f"edge import: {full}: cannot read: No such file or directory\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("receive", "RM-ROTOR", "1,5"),
            "edge receive: the quantity '1,5' is not an exact decimal: digits with up to "
            "6 decimals after a point, e.g. 12 or 0.25\n",
        ),
        (("build", "SA-MOTOR-100", "0"), "edge build: the quantity '0' of a build must be "
         "greater than zero\n"),
        (("count", "", "3"), "edge count: the part number is empty\n"),
    ],
)  # fmt: skip
def test_bad_quantities_and_parts_are_named_in_words(
    demo_edge: Edge, argv: tuple[str, ...], message: str
):
    before = demo_edge.snapshot()
    result = demo_edge(*argv)
    assert result.returncode == 2, describe(result)
    assert result.stderr == message
    assert "QTY" not in result.stderr
    assert demo_edge.snapshot() == before


ONE_LINE_ITEMS = """\
part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple,lead_time_days,aliases
FG-ONE,One-part kit,EA,false,,,,,,
SA-ONE,Sub-assembly of one part,EA,true,,,,,,
RM-ONE,The one part,EA,true,,,,,,
"""
ONE_LINE_BOM = "parent,component,qty_per,scrap_pct\nFG-ONE,RM-ONE,1,0\nSA-ONE,RM-ONE,2,0\n"


def test_one_line_reads_1_line_and_one_component_1_component(edge: Edge):
    edge.write("items.csv", ONE_LINE_ITEMS)
    edge.write("bom.csv", "parent,component,qty_per,scrap_pct\nFG-ONE,RM-ONE,1,0\n")
    edge.ok("import", "items", "items.csv")
    assert edge.ok("import", "bom", "bom.csv").stdout == (
        "imported bom.csv: 1 BOM line for 1 parent\n"
    )
    edge.write("bom.csv", ONE_LINE_BOM)
    assert "2 BOM lines for 2 parents" in edge.ok("import", "bom", "bom.csv").stdout
    assert edge.ok("build", "SA-ONE", "1").stdout.startswith(
        "built 1 x SA-ONE; issued 1 component\n"
    )
    edge.ok("scan", "--station", "PACK-1", "FG-ONE")
    summaries = [line.split("  ")[-1] for line in edge.ok("events").stdout.splitlines()[2:]]
    assert "1 x SA-ONE, 1 line" in summaries
    assert "1 x FG-ONE, 1 line" in summaries
    assert not any("1 lines" in summary for summary in summaries)


# --- read commands read, and only read ----------------------------------------------------------
def test_a_database_without_the_products_tables_is_refused_by_name(edge: Edge):
    connection = sqlite3.connect(edge.database)
    connection.execute("CREATE TABLE unrelated (x)")
    connection.commit()
    connection.close()
    before = edge.snapshot()
    result = edge("stock")
    assert result.returncode == 1, describe(result)
    assert result.stderr.startswith(
        f"edge stock: {edge.database} is not a Backflush Edge database (no schema revision)"
    )
    assert edge.snapshot() == before  # not created, not migrated


def test_a_database_that_cannot_be_opened_is_named_without_a_traceback(edge: Edge):
    edge.database.mkdir()  # a folder where the file should be
    result = edge("stock")
    assert result.returncode == 1, describe(result)
    assert result.stderr.startswith(f"edge stock: cannot read the database {edge.database}: ")


def test_read_commands_leave_the_database_file_byte_for_byte(demo_edge: Edge):
    # Opened with mode=ro: no migration, no checkpoint, no write of any kind.
    before = demo_edge.database.read_bytes()
    stock, events, scans, reorders = demo_edge.json_many(
        ["stock"], ["events"], ["scans"], ["reorders"]
    )
    assert {row["part"] for row in stock} >= {"RM-ROTOR", "SA-MOTOR-100"}
    assert events
    assert scans == []
    assert reorders
    assert demo_edge.database.read_bytes() == before


# --- devices ----------------------------------------------------------------------------------
def test_devices_json_is_the_report_and_says_whether_dev_input_exists(edge: Edge):
    report = edge.literals("devices")
    assert set(report) == {"input_devices_dir", "inputs", "serial_ports"}
    assert report["input_devices_dir"] is Path("/dev/input").is_dir()
    for candidate in report["inputs"] + report["serial_ports"]:
        # The config's stations are proposed, not a placeholder.
        assert 'station = "PACK-1"  # or SCRAP-1, BUILD-1' in candidate["binding"]


def test_devices_text_says_when_dev_input_is_missing(edge: Edge):
    text = edge.ok("devices").stdout
    assert (NO_INPUT_DIR in text) is not Path("/dev/input").is_dir()
    assert "SET-ME" not in text


def test_devices_lists_even_when_the_config_does_not_load(edge: Edge):
    edge.write("edge.toml", "[site\n")
    result = edge("devices")
    assert result.returncode == 0, describe(result)
    assert "Serial ports (nothing is written to them):" in result.stdout
