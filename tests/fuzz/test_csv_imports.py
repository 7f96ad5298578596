"""``edge import items|bom|stock`` on hostile CSV files: refused cleanly, or imported.

Each example runs the ``edge`` command in this process (``edge.cli.main``, as the
console script does) against a copy of a database holding the demo items and BOMs
(no stock yet, so opening balances can be imported). A file is either imported (exit
0, ``imported ...`` on stdout) or refused: exit 2, every problem on stderr naming the
file and a line that exists, nothing on stdout, and every row of every table exactly
as before. Nothing else: no traceback, no exit 1.

Three kinds of files: arbitrary bytes; CSV built from hostile cells (quoting, embedded
newlines, NUL and control characters, a BOM, CRLF, bad UTF-8, wrong field counts,
unknown and duplicate columns, quantities like ``1e3``, ``NaN`` or ``1,5``); and
valid files with one known-bad cell, whose message must name its line and column.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st

from edge.cli.main import main
from edge.masterdata.bom import BOM_COLUMNS
from edge.masterdata.items import ITEM_COLUMNS
from edge.masterdata.stock import STOCK_COLUMNS
from tests.e2e.conftest import CONFIG, DB_NAME, table_rows
from tests.fuzz.conftest import fuzz_settings

COLUMNS = {"items": ITEM_COLUMNS, "bom": BOM_COLUMNS, "stock": STOCK_COLUMNS}
FILE_NAMES = {"items": "items.csv", "bom": "bom.csv", "stock": "stock.csv"}
Tables = dict[str, list[tuple[Any, ...]]]  # every row of every table


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_edge(*args: str) -> Outcome:
    """``edge ARGS`` in this process; the exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's own exits
            code = exit_.code if isinstance(exit_.code, int) else 2
    return Outcome(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def floor(catalog: Path) -> Iterator[Path]:
    """A folder with ``edge.toml`` and its own copy of the catalog database."""
    with tempfile.TemporaryDirectory(prefix="edge-fuzz-") as name:
        folder = Path(name)
        (folder / "edge.toml").write_text(CONFIG, encoding="utf-8")
        shutil.copyfile(catalog, folder / DB_NAME)
        yield folder


def import_file(folder: Path, kind: str, content: bytes) -> tuple[Outcome, Tables, Tables]:
    """Write the file, import it; the outcome and every table before and after."""
    path = folder / FILE_NAMES[kind]
    path.write_bytes(content)
    before = table_rows(folder / DB_NAME)
    outcome = run_edge("--config", str(folder / "edge.toml"), "import", kind, str(path))
    return outcome, before, table_rows(folder / DB_NAME)


_PROBLEM = re.compile(r"(?P<file>[^:]+):(?P<line>[0-9]+)[: ]")
_MORE = re.compile(r"\.\.\. and [0-9]+ more problems")


def check_refused_or_imported(
    kind: str, content: bytes, outcome: Outcome, before: Tables, after: Tables
) -> None:
    name = FILE_NAMES[kind]
    event(f"exit {outcome.code}")
    assert outcome.code in (0, 2), outcome
    if outcome.code == 0:
        assert outcome.stdout.startswith(f"imported {name}: "), outcome
        return
    assert outcome.stdout == "", outcome
    assert after == before, "a refused import changed the database"
    prefix = "edge import: "
    assert outcome.stderr.startswith(prefix), outcome
    lines = outcome.stderr[len(prefix) :].rstrip("\n").split("\n")
    # The physical lines of the file, as an editor counts them (CR, LF or CRLF).
    last_line = content.count(b"\n") + content.count(b"\r") + 1
    for number, line in enumerate(lines):
        if number == len(lines) - 1 and _MORE.fullmatch(line):
            continue
        problem = _PROBLEM.match(line)
        assert problem is not None, f"problem without file and line: {line!r}"
        assert problem["file"] == name, line
        assert 1 <= int(problem["line"]) <= last_line, line


# --- hostile CSV -------------------------------------------------------------------------

EXISTING = ["FG-PUMP-100", "FG-PUMP-200", "SA-MOTOR-100", "PH-HOUSING", "RM-ROTOR", "RM-GREASE"]
PART_CELLS = [
    *EXISTING,
    "NEW-1", "NEW-2", "", " ", "  RM-ROTOR  ", "X" * 65, "A\x00B", "A\tB", "é-ü", "09506000134352",
    "CUST-4711", "\u202eEVIL",
]  # fmt: skip
QUANTITY_CELLS = [
    "1", "5", "0", "-1", "1.5", "0.000001", "0.1234567", "1e3", "NaN", "inf", "1,5", " 5", "5 ",
    "\u0665", "9" * 41, "", "+1", "0x10",
]  # fmt: skip
CELLS = {
    "part": PART_CELLS,
    "parent": PART_CELLS,
    "component": PART_CELLS,
    "description": ["Pump", "", "two\nlines", 'with "quotes"', "a,b", "\x00", "\r"],
    "uom": ["EA", "KG", "", "\u00b5m"],
    "stocked": ["true", "false", "", "yes", "TRUE", "maybe", "2"],
    "aliases": ["", "09506000134352", "CUST-4711", "A|B", "|", "FG-PUMP-200", "09506000134353"],
    "lead_time_days": ["", "1", "-1", "99999", "100000", "1.5", "\u0663"],
}


def _cell(column: str) -> st.SearchStrategy[str]:
    choices = CELLS.get(column, QUANTITY_CELLS)
    return st.one_of(st.sampled_from(choices), st.sampled_from(choices), st.text(max_size=8))


def _quoted(cell: str, force: bool) -> str:
    if force or any(char in cell for char in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def hostile_csv(draw: st.DrawFn, kind: str) -> bytes:
    columns = list(COLUMNS[kind])
    header = draw(st.permutations(columns))
    header = header[: draw(st.integers(min_value=1, max_value=len(header)))]
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        header.append(draw(st.sampled_from(["bogus", " part ", header[0], "Part", ""])))
    lines = [",".join(header)]
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        cells = [draw(_cell(column.strip())) for column in header]
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            cells = cells[: draw(st.integers(min_value=0, max_value=len(cells)))] + [
                "extra"
            ] * draw(st.integers(min_value=0, max_value=2))
        quote = draw(st.booleans())
        lines.append(",".join(_quoted(cell, quote) for cell in cells))
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        lines.insert(
            draw(st.integers(min_value=1, max_value=len(lines))),
            draw(st.sampled_from(['"open', 'a"b"c', "", ",,,"])),
        )
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    data = (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8")
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        at = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + data[at:]
    return data


KINDS = ["items", "bom", "stock"]
CASES = st.sampled_from(KINDS).flatmap(
    lambda kind: st.tuples(st.just(kind), st.one_of(hostile_csv(kind), st.binary(max_size=200)))
)


@fuzz_settings(weight=0.5)
@example(case=("items", b'part,description\nNEW-1,"open\n')).via("an unclosed quote")
@example(case=("stock", b"part,on_hand\nRM-ROTOR,5\nRM-ROTOR,6\n")).via("a part twice")
@example(case=("bom", b"\xef\xbb\xbfparent,component,qty_per\r\nFG-PUMP-200,RM-ROTOR,1e3\r\n"))
@example(case=("items", b'"a\nb",part\n')).via("a line break in an unknown column's name")
@example(case=("items", b")\n")).via("a parenthesis as a column name")
@given(case=CASES)
def test_hostile_csv_is_imported_or_refused_with_file_and_line(
    catalog_database: Path, case: tuple[str, bytes]
) -> None:
    kind, content = case
    with floor(catalog_database) as folder:
        outcome, before, after = import_file(folder, kind, content)
    check_refused_or_imported(kind, content, outcome, before, after)


# --- one bad cell in a valid file ------------------------------------------------------

# Valid rows for the catalog: new items (descriptions may span lines), a new BOM of
# FG-PUMP-200 from raw materials, and opening stock of raw materials.
RAW_MATERIALS = [
    "RM-HOUSING-CAST",
    "RM-IMPELLER",
    "RM-ROTOR",
    "RM-STATOR",
    "RM-BEARING",
    "RM-GASKET",
]
BAD_CELLS = {
    "items": {
        "part": ["\x01X", "X" * 65, "CUST-4711", "09506000134352"],
        "stocked": ["maybe", "2", "ja"],
        "reorder_point": ["1e3", "NaN", "1,5", " 5", "0.1234567", "\u0665", "-"],
        "reorder_qty": ["0", "-1", "abc", "Infinity"],
        "lead_time_days": ["-1", "1.5", "100000", "\u0663"],
        "aliases": ["FG-PUMP-200", "CUST-4711", "X" * 65],
        "replenishment": ["Kanban", "kanbn", "pull", "1"],
        "count_tolerance_pct": ["-1", "1e3", "x", "0.1234567"],
    },
    "bom": {
        "parent": ["NO-SUCH-PART"],
        "component": ["NO-SUCH-PART", "FG-PUMP-200"],
        "qty_per": ["0", "-1", "1e3", "", "NaN", "0.0000001"],
        "scrap_pct": ["-1", "x", "1e2"],
    },
    "stock": {
        "part": ["NO-SUCH-PART", "PH-HOUSING"],
        "on_hand": ["-1", "1e3", "", "NaN", "1,5"],
    },
}


@st.composite
def valid_rows(draw: st.DrawFn, kind: str) -> list[dict[str, str]]:
    count = draw(st.integers(min_value=1, max_value=6))
    if kind == "items":
        return [
            {
                "part": f"FUZZ-{i}",
                "description": draw(st.sampled_from(["Bolt", "two\nlines", "a, b", 'say "x"'])),
                "uom": "EA",
                "stocked": "false",
                "reorder_point": draw(st.sampled_from(["", "5", "0.5"])),
                "reorder_qty": "",
                "max_qty": "",
                "order_multiple": "",
                "lead_time_days": draw(st.sampled_from(["", "3"])),
                "aliases": f"ALIAS-{i}",
                "replenishment": draw(st.sampled_from(["", "reorder"])),
                "count_tolerance_pct": draw(st.sampled_from(["", "0", "2.5"])),
            }
            for i in range(count)
        ]
    parts = draw(st.permutations(RAW_MATERIALS))[:count]
    if kind == "bom":
        return [
            {"parent": "FG-PUMP-200", "component": part, "qty_per": "2", "scrap_pct": "0"}
            for part in parts
        ]
    return [{"part": part, "on_hand": draw(st.sampled_from(["0", "3", "12.5"]))} for part in parts]


@st.composite
def one_bad_cell(draw: st.DrawFn) -> tuple[str, list[dict[str, str]], int, str, str]:
    kind = draw(st.sampled_from(KINDS))
    rows = draw(valid_rows(kind))
    index = draw(st.integers(min_value=0, max_value=len(rows) - 1))
    column = draw(st.sampled_from(sorted(BAD_CELLS[kind])))
    value = draw(st.sampled_from(BAD_CELLS[kind][column]))
    if kind == "items" and column in ("reorder_qty",):
        rows[index]["reorder_point"] = "5"
    rows[index][column] = value
    if kind == "items":
        rows[index]["description"] = "the bad row"  # one line, and never a blank row
    return kind, rows, index, column, value


def _write_csv(kind: str, rows: list[dict[str, str]], newline: str) -> tuple[bytes, list[int]]:
    """The file's bytes and the line each row starts on."""
    columns = COLUMNS[kind]
    lines = [",".join(columns)]
    starts = []
    line = 2
    for row in rows:
        starts.append(line)
        text = ",".join(_quoted(row[column], force=False) for column in columns)
        lines.append(text)
        line += 1 + text.count("\n")
    return (newline.join(lines) + newline).encode("utf-8"), starts


@fuzz_settings(weight=0.5)
@example(
    bad=("items", [{**dict.fromkeys(ITEM_COLUMNS, ""), "part": "P", "reorder_point": "1e3"}], 0,
         "reorder_point", "1e3"),
    newline="\n",
).via("an exponent quantity")  # fmt: skip
@given(bad=one_bad_cell(), newline=st.sampled_from(["\n", "\r\n"]))
def test_one_bad_cell_refuses_the_file_naming_its_line_and_column(
    catalog_database: Path, bad: tuple[str, list[dict[str, str]], int, str, str], newline: str
) -> None:
    kind, rows, index, column, value = bad
    content, starts = _write_csv(kind, rows, newline)
    with floor(catalog_database) as folder:
        outcome, before, after = import_file(folder, kind, content)
    assert outcome.code == 2, f"{value!r} in {column} was accepted: {outcome}"
    check_refused_or_imported(kind, content, outcome, before, after)
    position = COLUMNS[kind].index(column) + 1
    assert f"{FILE_NAMES[kind]}:{starts[index]}:{position} ({column}): " in outcome.stderr
