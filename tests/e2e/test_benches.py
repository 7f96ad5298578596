"""The scan-path benches run end to end in their smoke mode and print their table of bars.

``bench/burst.py --quick`` and ``bench/steady.py --quick`` start a real
``edge run`` on ptys with a real mosquitto. These tests check that each bench
finishes, that every typed code was journaled once and acknowledged, and that
the final table names each bar with a measured median and a verdict. They
never judge the numbers: speed is the benches' business, on a quiet machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.broker import mosquitto_binary

REPO = Path(__file__).resolve().parents[2]
CEILING_S = 180  # a hung bench, not a speed requirement

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]


def run_bench(name: str, directory: Path, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / name), "--quick", "--dir", str(directory), *extra],
        capture_output=True,
        text=True,
        timeout=CEILING_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done.stdout


def bar_rows(output: str, title: str) -> dict[str, list[str]]:
    """The final table's rows after ``title``: bar name -> [goal, median, spread, met]."""
    tail = output[output.index(title) :].splitlines()
    header = next(i for i, line in enumerate(tail) if line.startswith("bar "))
    rows: dict[str, list[str]] = {}
    for line in tail[header + 2 :]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows


def test_burst_quick_prints_its_bars(tmp_path: Path) -> None:
    output = run_bench("burst.py", tmp_path)

    assert re.search(r"run 1 journal: 400 typed, 400 journaled exactly once.*: pass", output)
    rows = bar_rows(output, "Burst bars")
    ratio = rows["burst: product / raw sqlite3 1 txn per scan"]
    assert ratio[0] == ">= 1.0x"
    assert re.fullmatch(r"\d+\.\d\dx", ratio[1])
    assert ratio[-1] in {"yes", "no"}
    # The writer's account is either parsed or said to be missing, never invented.
    writer = rows["writer CPU per scan (its own account)"]
    assert re.fullmatch(r"\d+ us", writer[1]) or writer[1] == "not reported by this build"
    assert re.fullmatch(r"\d+ us", rows["daemon CPU per scan (/proc utime+stime)"][1])
    assert rows["typed codes not journaled once and accepted"][-1] == "yes"
    assert "rows per scan, counted from the product's database" in output


def test_steady_quick_prints_its_bars(tmp_path: Path) -> None:
    """On balances with 13 earlier days of use (--days), which the scans keep: 14 a part."""
    output = run_bench("steady.py", tmp_path, "--days", "13")

    assert re.search(r"run 1 journal: 100 typed, 100 journaled exactly once.*: pass; "
                     r"daily use at the end: 14 days a part", output)  # fmt: skip
    rows = bar_rows(output, "Steady bars")
    for name in ("steady p50: product - raw commit", "steady p99: product - raw commit"):
        assert re.fullmatch(r"-?\d+\.\d\d ms", rows[name][1])
        assert rows[name][-1] in {"yes", "no"}
    assert rows["typed codes not journaled once and ACKed"][-1] == "yes"
    # The pty's own floor, measured beside them: a round trip through a bare echo.
    assert re.fullmatch(r"\d+\.\d\d ms", rows["pty round trip to a bare echo, p50"][0])


def test_plant_quick_reports_zero_loss_and_zero_gaps(tmp_path: Path) -> None:
    output = run_bench("plant.py", tmp_path)  # 2 nodes, 2 tails, 3 s of typing

    assert re.search(r"2 nodes, 2 consumers, .*: [\d.]+ events/s published, [\d.]+ consumed; "
                     r"lost 0, gaps 0, out of order 0, duplicates \d+; tail exit \[0, 0\], "
                     r"node exit \[0, 0\]", output)  # fmt: skip
    assert "zero loss, zero gaps, order kept: pass" in output
    for node in ("line-01", "line-02"):
        cells = next(line.split() for line in output.splitlines() if line.startswith(node))
        typed, acked, scans, events, consumed, lost = map(int, cells[2:8])
        assert typed == acked > 0
        assert scans > typed
        assert events == consumed > 0
        assert lost == 0


def test_steady_floor_quick_takes_the_gap_apart(tmp_path: Path) -> None:
    output = run_bench("steady_floor.py", tmp_path)

    row = next(line.split() for line in output.splitlines() if re.match(r"1\s+\d+\s+\d", line))
    assert int(row[1]) >= 10  # statements of one backflush scan, captured and replayed
    assert row[-1] == "yes"  # the replayed copy holds the rows the product wrote
    rows = bar_rows(output, "Steady floor")
    for name in ("in-process gap: product - raw", "the schema's SQL: replay - raw",
                 "the scan path's Python: gap - SQL"):  # fmt: skip
        assert re.fullmatch(r"-?\d+\.\d\d ms", rows[name][0]), rows  # no goal: median first


def test_cold_model_stages_run_natively(tmp_path: Path) -> None:
    """``bench/cold_model.py`` counts under valgrind; natively its toggles do nothing,
    and each stage must still commit every scan and answer it good (the scan stage on
    balances with 13 earlier days of use, which its scans keep: 14 days a part)."""
    for stage in ("scan", "domain", "sql", "raw"):
        done = subprocess.run(
            [sys.executable, str(REPO / "bench" / "cold_model.py"), "--child", stage,
             "--warm", "2", "--cold", "1", "--dir", str(tmp_path / stage),
             "--days", "13" if stage == "scan" else "0"],
            capture_output=True, text=True, timeout=CEILING_S, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        if stage != "raw":
            assert f"{stage}: 3 scans, all answered good" in done.stdout
        if stage == "scan":
            assert "daily use: 14 days a part" in done.stdout
