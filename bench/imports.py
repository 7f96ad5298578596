"""Imports: master data through the one apply path, and scans at 1/s while a 50,000-row import runs.

Part 1, the imports alone (SPEC §9: a 50,000-row items import under 10 s):
items files of 6,000, 20,000 and 50,000 rows into a fresh database, a
50,000-line BOM file (5,000 parents of 10 lines) and 50,000 opening
balances, each through the product's ``upsert_items`` / ``replace_boms`` /
``post_opening_stock`` (what ``edge import`` calls), timed from the file to
the commit, with how long the apply transaction held the write lock. The
physical limit, measured in the same run on the same disk: raw Python
``sqlite3`` reading the same CSV with the ``csv`` module and inserting its
rows into a bare table of as many TEXT columns, ``executemany``, one durable
transaction. The ratio product / raw says what validation and the product's
tables cost beyond writing the bytes.

Part 2, scans while importing: a real ``edge run`` with one serial scanner
on a pty (ACK/NAK feedback) and our own mosquitto; ``edge import items``
(50,000 new parts), then ``edge import bom`` (50,000 lines), then ``edge
import stock`` (50,000 openings) run as separate processes, as an operator
runs them, while the bench types one serialized label per second and times
bytes in to the good-read byte out. Goal: p99 under 1 s, no bad-read byte,
every scan journaled once and accepted. Each import's write-lock time is
read from its own progress line on stderr.

    .venv/bin/python bench/imports.py [--runs 3] [--quick] [--period 1.0] [--dir DIR]
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from baselines import raw_connection
from common import (
    Bar,
    Spread,
    arguments,
    journal_bar,
    load,
    now_moment,
    percentile,
    print_bars,
    print_machine,
    runs_arguments,
    scratch,
    serial_code,
    service_for,
    table,
)
from rig import daemon_on_ptys, journal_check, revision, scan_and_time

from edge.masterdata.apply import (
    BOM_COLUMNS,
    ITEM_COLUMNS,
    STOCK_COLUMNS,
    Applied,
    post_opening_stock,
    replace_boms,
    upsert_items,
)
from edge.masterdata.csv_files import read_csv
from edge.service import InventoryService

GOAL_IMPORT_S = 10.0  # SPEC §9, for 50,000 rows
GOAL_SCAN_P99_S = 1.0
IMPORT_CEILING_S = 300.0
LINES_PER_PARENT = 10
_LOCK_LINE = re.compile(r"holding the write lock ([0-9.]+) s")


# --- generated files --------------------------------------------------------------
@dataclass(frozen=True)
class Files:
    items: Path
    bom: Path
    stock: Path
    rows: int


def write_files(directory: Path, rows: int, prefix: str = "P") -> Files:
    """``rows`` bought parts (half with reorder fields, each with a customer alias), one
    assembly per LINES_PER_PARENT of them whose BOM uses them, and an opening balance each."""
    directory.mkdir(parents=True, exist_ok=True)
    parents = rows // LINES_PER_PARENT
    with (directory / "items.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ITEM_COLUMNS)
        for i in range(rows):
            policy = ["5", "10", "", ""] if i % 2 else ["", "", "", ""]
            writer.writerow([f"{prefix}-{i:06d}", f"Part {i}", "EA", "false", *policy, "3",
                             f"C{prefix}-{i:06d}", "reorder", ""])  # fmt: skip
        for j in range(parents):
            writer.writerow([f"A{prefix}-{j:05d}", f"Assembly {j}", "EA", "true", "", "", "",
                             "", "", "", "reorder", ""])  # fmt: skip
    with (directory / "bom.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(BOM_COLUMNS)
        for j in range(parents):
            for k in range(LINES_PER_PARENT):
                part = f"{prefix}-{j * LINES_PER_PARENT + k:06d}"
                writer.writerow([f"A{prefix}-{j:05d}", part, f"{k + 1}.5", "0"])
    with (directory / "stock.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(STOCK_COLUMNS)
        for i in range(rows):
            writer.writerow([f"{prefix}-{i:06d}", str(100 + i % 7)])
    return Files(directory / "items.csv", directory / "bom.csv", directory / "stock.csv", rows)


def raw_import(csv_path: Path, database: Path) -> float:
    """Seconds for raw sqlite3 to read the CSV and commit its rows into a bare table."""
    started = time.perf_counter()
    db = raw_connection(database)
    with csv_path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader)
        columns = ", ".join(f"c{i} TEXT" for i in range(len(header)))
        db.execute(f"CREATE TABLE bare (id INTEGER PRIMARY KEY, {columns})")
        marks = ", ".join("?" * len(header))
        names = ", ".join(f"c{i}" for i in range(len(header)))
        db.execute("BEGIN IMMEDIATE")
        db.executemany(f"INSERT INTO bare ({names}) VALUES ({marks})", reader)
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


# --- part 1: the imports alone --------------------------------------------------------
@dataclass
class Timed:
    seconds: float
    lock_s: float
    raw_s: float


def timed(action: Callable[[], Applied], csv_path: Path, raw_db: Path) -> Timed:
    """The product's import and the raw limit, on the same file."""
    started = time.perf_counter()
    applied = action()
    seconds = time.perf_counter() - started
    return Timed(seconds, applied.lock_seconds, raw_import(csv_path, raw_db))


# What ``edge import`` does with each file, from reading it to the commit.
def items_file(service: InventoryService, path: Path) -> Applied:
    return upsert_items(service, read_csv(path, ITEM_COLUMNS, ("part",)))


def bom_file(service: InventoryService, path: Path) -> Applied:
    return replace_boms(service, read_csv(path, BOM_COLUMNS, ("parent", "component", "qty_per")))


def stock_file(service: InventoryService, path: Path) -> Applied:
    rows = read_csv(path, STOCK_COLUMNS, STOCK_COLUMNS)
    return post_opening_stock(service, rows, now_moment())


def import_run(folder: Path, sizes: list[int], big: int) -> dict[str, Timed]:
    """One fresh database per items size; the big one then takes its BOM and stock."""
    results: dict[str, Timed] = {}
    for size in sizes:
        files = write_files(folder / f"files-{size}", size)
        service = service_for(folder / f"items-{size}.db")
        results[f"items {size}"] = timed(
            partial(items_file, service, files.items), files.items, folder / f"raw-items-{size}.db"
        )
        if size == big:
            results[f"bom {big}"] = timed(
                partial(bom_file, service, files.bom), files.bom, folder / "raw-bom.db"
            )
            results[f"stock {big}"] = timed(
                partial(stock_file, service, files.stock), files.stock, folder / "raw-stock.db"
            )
        service.engine.dispose()
    return results


# --- part 2: scans while importing ------------------------------------------------------
@dataclass
class ScanRun:
    latencies: list[float] = field(default_factory=list)
    typed: list[bytes] = field(default_factory=list)
    unanswered: int = 0
    not_ack: int = 0
    lock_s: dict[str, float] = field(default_factory=dict)
    import_s: dict[str, float] = field(default_factory=dict)
    scans_during: int = 0  # scans typed while an import process ran
    failed: list[str] = field(default_factory=list)


def run_imports(config: Path, files: Files, result: ScanRun, running: threading.Event) -> None:
    """``edge import`` items, bom, stock one after the other, as an operator runs them."""
    try:
        for kind, path in (("items", files.items), ("bom", files.bom), ("stock", files.stock)):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "edge", "import", kind, str(path), "--config", str(config)],
                capture_output=True, text=True, timeout=IMPORT_CEILING_S, check=False,
            )  # fmt: skip
            result.import_s[kind] = time.perf_counter() - started
            found = _LOCK_LINE.search(done.stderr)
            if done.returncode != 0 or found is None:
                result.failed.append(f"{kind}: exit {done.returncode}: {done.stderr[-500:]}")
                continue
            result.lock_s[kind] = float(found.group(1))
    finally:
        running.clear()


def scan_run(folder: Path, index: int, rows: int, period_s: float) -> ScanRun:
    result = ScanRun()
    with daemon_on_ptys(folder, 1) as daemon:
        [scanner] = daemon.scanners
        config = folder / "edge.toml"
        files = write_files(folder / "files", rows, prefix=f"N{index}")
        running = threading.Event()
        running.set()
        importer = threading.Thread(target=run_imports, args=(config, files, result, running))
        slot = time.perf_counter()
        importer.start()
        number = 0
        while running.is_set():
            delay = slot - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing the operator, a benchmark's clock
            code = serial_code(number, f"I{index}").encode()
            number += 1
            result.typed.append(code)
            result.scans_during += running.is_set()
            latency, other = scan_and_time(scanner, code)
            result.not_ack += other
            if latency is None:
                result.unanswered += 1
            else:
                result.latencies.append(latency)
            slot += period_s
        importer.join()
    check = journal_check(daemon.database, result.typed)
    if not check.lossless:
        result.failed.append(check.line())
    return result


# --- report -----------------------------------------------------------------------------
def seconds(value: float) -> str:
    return f"{value:.2f} s"


def report_imports(runs: list[dict[str, Timed]], big: int) -> list[Bar]:
    names = list(runs[0])
    rows = []
    for name in names:
        product = Spread(tuple(run[name].seconds for run in runs))
        lock = Spread(tuple(run[name].lock_s for run in runs))
        raw = Spread(tuple(run[name].raw_s for run in runs))
        rows.append([name, seconds(product.median), seconds(lock.median), seconds(raw.median),
                     f"{product.median / raw.median:.1f}x"])  # fmt: skip
    print("Imports alone: file to commit (median of runs); the write lock held; raw sqlite3 "
          "csv + executemany of the same rows, one durable transaction")  # fmt: skip
    table(["import", "product", "write lock", "raw sqlite3", "product / raw"], rows)
    return [
        Bar(f"{name} rows", f"< {GOAL_IMPORT_S:g} s",
            Spread(tuple(run[name].seconds for run in runs)), seconds,
            lambda x: x < GOAL_IMPORT_S)
        for name in names if name in (f"items {big}", f"bom {big}", f"stock {big}")
    ]  # fmt: skip


def report_scans(runs: list[ScanRun], period_s: float) -> list[Bar]:
    rows = []
    for number, run in enumerate(runs, start=1):
        imports = ", ".join(
            f"{kind} {run.import_s[kind]:.1f} s (lock {run.lock_s.get(kind, 0):.2f})"
            for kind in run.import_s
        )
        rows.append([f"run {number}", len(run.typed), run.scans_during,
                     seconds(percentile(run.latencies, 0.5)),
                     seconds(percentile(run.latencies, 0.99)),
                     seconds(max(run.latencies, default=float("nan"))), imports])  # fmt: skip
    print(f"Scans at one per {period_s:g} s while edge import items, bom, stock ran (good-read "
          "latency: bytes in to ACK out)")  # fmt: skip
    table(["run", "scans", "during imports", "p50", "p99", "max", "imports (write lock)"], rows)
    for run in runs:
        for problem in run.failed:
            print(f"  problem: {problem}")
    every = [latency for run in runs for latency in run.latencies]
    lock = Spread(tuple(max(run.lock_s.values(), default=float("nan")) for run in runs))
    return [
        Bar("scan p99 during imports", f"< {GOAL_SCAN_P99_S:g} s",
            Spread((percentile(every, 0.99),)), seconds, lambda x: x < GOAL_SCAN_P99_S),
        Bar("longest write lock of an import", "reported", lock, seconds),
        journal_bar("scans lost, refused or unanswered",
                    [run.unanswered + run.not_ack + len(run.failed) for run in runs]),
    ]  # fmt: skip


def main() -> None:
    args = arguments(__doc__.splitlines()[0], [
        ("--period", {"type": float, "default": 1.0, "help": "seconds between scans"}),
        ("--rows", {"type": int, "default": 50_000, "help": "rows of the big files"}),
        *runs_arguments(),
    ])  # fmt: skip
    runs = 1 if args.quick else args.runs
    rows = 2_000 if args.quick else args.rows
    sizes = [rows] if args.quick else [6_000, 20_000, rows]
    with scratch(args) as directory:
        print_machine("imports: master data through the one apply path", directory)
        print(f"product     {revision()}\n")
        timings = []
        for number in range(1, runs + 1):
            timings.append(import_run(directory / f"imports-{number}", sizes, rows))
            done = ", ".join(f"{name} {t.seconds:.1f} s" for name, t in timings[-1].items())
            print(f"  import run {number}: {done}", flush=True)
        print()
        bars = report_imports(timings, rows)
        scans = []
        for number in range(1, runs + 1):
            scans.append(scan_run(directory / f"scans-{number}", number, rows, args.period))
            print(f"  scan run {number}: {len(scans[-1].typed)} scans, p99 "
                  f"{seconds(percentile(scans[-1].latencies, 0.99))}", flush=True)  # fmt: skip
        print()
        bars += report_scans(scans, args.period)
        print(f"load        {load()} at end")
        print()
        print_bars("Import bars", bars, runs)


if __name__ == "__main__":
    main()
