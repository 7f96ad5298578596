"""Growth: commit latency and ``edge stock`` as the ledger and the open reorders pile up.

One ship station scans serialized labels of a product whose 3-level BOM
explodes to 50 stock components (50 ledger rows per scan). The ledger is
filled only through the product: ``InventoryService.process_scans`` in
groups of 128 scans per durable commit, the daemon writer's own path, so
every row (journal, transactions, ledger, balances, outbox, shipped serials)
is consistent. At each size:

* commit latency: one scan, one durable commit (WAL, synchronous=FULL);
* ``edge stock``: the CLI as a subprocess (wall time, Python start included,
  next to ``edge --help`` as the floor) and ``queries.stock`` in-process;
* the database and WAL file sizes.

Then EXPLAIN QUERY PLAN of every statement a scan and ``edge stock`` run
(captured with sqlite3's trace callback) names any full scan, and the WAL's
largest size over the whole run shows whether checkpoints keep it bounded.

Open reorders piling up: a part with a reorder point far above its stock and
a reorder lot of 1 is scrapped again and again with no receipt, so each scrap
opens another reorder (on-hand + on-order falls to the point again). The cost
of one scrap scan, one durable commit each, is measured after 0, 100, 1,000
and 10,000 open reorders (filled through the product, 128 scans a commit).

    .venv/bin/python bench/growth.py [--sizes 10000,100000,1000000]
        [--reorders 0,100,1000,10000] [--cases ledger,reorders] [--quick] [--dir DIR]
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    Labels,
    arguments,
    import_catalog,
    load,
    ms,
    now_moment,
    percentile,
    print_machine,
    scratch,
    service_for,
    table,
    write_three_level_catalog,
)
from rig import REPO, WalWatch, file_bytes, megabytes, revision, wal_path
from sqlalchemy import Engine, event

from edge.domain.model import Station, StationMode
from edge.domain.scanning import ScanInput
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.runtime.clock import SystemClock
from edge.service import InventoryService, PendingScan
from edge.store import outbox, queries
from hardware.barcode import decode

COVER = ("published_at", "set_aside", "seq")  # candidate index for the relay's backlog count
FILL_BATCH = 128  # the writer's MAX_BATCH
FLAT_RATIO = 1.5  # largest vs smallest size: below this, the metric is called flat
SCRAPPED = "RM-SCRAPPED"
SCRAPPED_GTIN = "09506000134376"
# A point just below the stock and a lot of 1: every scrap opens one more reorder of 1.
SCRAPPED_ITEM = f"{SCRAPPED},Scrapped again and again,EA,false,1000000,1,{SCRAPPED_GTIN}"
SCRAPPED_STOCK = 1_000_001  # one above the point: the first scrap opens the first reorder
# Tables that gain rows with every scan (reorders gain one per reorder and are never purged).
GROWING = frozenset({"ledger", "scans", "transactions", "outbox", "shipped_serials", "reorders"})


# --- the product ---------------------------------------------------------------------------
def pending(labels: Labels, count: int) -> list[PendingScan]:
    clock = SystemClock()
    return [
        PendingScan(ScanInput("bench", "PACK-1", data, clock.moment()), decode(data))
        for data in labels.take(count)
    ]


def accept(service: InventoryService, batch: list[PendingScan]) -> None:
    outcomes = service.process_scans(batch)
    if not all(outcome.good for outcome in outcomes):
        raise SystemExit(f"a scan was not accepted: {[o for o in outcomes if not o.good][:1]}")


def ledger_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM ledger").fetchone()[0])


def fill(service: InventoryService, labels: Labels, path: Path, target: int, per_scan: int) -> int:
    """Scan (grouped commits) until the ledger holds at least ``target`` rows; seconds taken."""
    missing = target - ledger_rows(path)
    scans = max(0, -(-missing // per_scan))
    began = time.perf_counter()
    while scans > 0:
        size = min(FILL_BATCH, scans)
        accept(service, pending(labels, size))
        scans -= size
    return time.perf_counter() - began


def commit_latencies(service: InventoryService, labels: Labels, samples: int) -> list[float]:
    latencies = []
    for item in pending(labels, samples):
        began = time.perf_counter()
        accept(service, [item])
        latencies.append(time.perf_counter() - began)
    return latencies


def timed_runs(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return times


def cli(config: Path, *command: str) -> Callable[[], object]:
    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "edge", *command, "--config", str(config)],
            capture_output=True,
            cwd=REPO,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"edge {' '.join(command)} failed: {done.stderr.decode()}")

    return run


# --- statements and their plans ----------------------------------------------------------------
class Tracer:
    """Every SQL statement the engine's connections run while ``on`` (sqlite3 trace callback)."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.statements: list[str] = []

        def connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
            dbapi_connection.set_trace_callback(self._seen)

        event.listen(engine, "connect", connect)
        engine.dispose()  # pooled connections were opened before the callback

    def _seen(self, statement: str) -> None:
        if self.on:
            self.statements.append(statement)

    def capture(self, action: Callable[[], object]) -> list[str]:
        self.statements = []
        self.on = True
        try:
            action()
        finally:
            self.on = False
        return self.statements


_LITERALS = re.compile(r"'(?:[^']|'')*'|x'[0-9a-fA-F]*'|\b\d+(?:\.\d+)?\b")


def shape(statement: str) -> str:
    """The statement with its literals replaced by ``?``: one line per distinct statement."""
    return " ".join(_LITERALS.sub("?", statement).split())


@dataclass
class Plan:
    shape: str
    count: int
    details: list[str]
    # The database's tables: a scan of anything else is of the statement's own rows.
    tables: frozenset[str]

    @property
    def full_scans(self) -> list[str]:
        return [d for d in self.details if d.startswith("SCAN") and d.split()[1] in self.tables]


def plans(path: Path, statements: list[str]) -> list[Plan]:
    by_shape: dict[str, Plan] = {}
    with sqlite3.connect(path) as db:
        tables = frozenset(row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))  # fmt: skip
        for statement in statements:
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb not in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
                continue
            key = shape(statement)
            plan = by_shape.get(key)
            if plan is None:
                rows = db.execute("EXPLAIN QUERY PLAN " + statement).fetchall()
                plan = by_shape[key] = Plan(key, 0, [row[3] for row in rows], tables)
            plan.count += 1
    return list(by_shape.values())


def table_rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


# --- one size ----------------------------------------------------------------------------------
@dataclass
class Size:
    target: int
    ledger: int = 0
    fill_s: float = 0.0
    commits: list[float] = field(default_factory=list)
    cli_stock: list[float] = field(default_factory=list)
    cli_floor: list[float] = field(default_factory=list)
    query_stock: list[float] = field(default_factory=list)
    backlog: list[float] = field(default_factory=list)
    pending: int = 0
    database: int = 0
    wal: int = 0


@dataclass
class Results:
    sizes: list[Size]
    per_scan: int
    wal_largest: int
    wal_samples: int
    scan_plans: list[Plan]
    stock_plans: list[Plan]
    backlog_plans: list[Plan]
    covered: list[float]  # outbox.backlog() at the largest size with the covering index
    covered_plans: list[Plan]
    rows: dict[str, int]


def measure(directory: Path, targets: list[int], samples: int, cli_runs: int) -> Results:
    catalog = write_three_level_catalog(directory)
    path = directory / "growth.db"
    config = directory / "edge.toml"
    config.write_text(
        '[site]\nid = "bench"\nnode = "growth"\n\n[database]\npath = "growth.db"\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n'
    )
    service = service_for(path)
    import_catalog(service, catalog)
    tracer = Tracer(service.engine)
    labels = Labels()
    before = ledger_rows(path)
    accept(service, pending(labels, 10))  # warm-up: catalog and statement caches
    per_scan = (ledger_rows(path) - before) // 10
    sizes = []
    with WalWatch(path, every_s=0.05) as wal:
        for target in targets:
            size = Size(target)
            size.fill_s = fill(service, labels, path, target, per_scan)
            size.ledger = ledger_rows(path)
            size.commits = commit_latencies(service, labels, samples)
            size.cli_floor = timed_runs(cli(config, "--help"), cli_runs)
            size.cli_stock = timed_runs(cli(config, "stock"), cli_runs)
            size.query_stock = timed_runs(lambda: queries.stock(service.engine), 20)
            size.backlog = timed_runs(lambda: outbox.backlog(service.engine), 20)
            size.pending = outbox.backlog(service.engine).events
            size.database, size.wal = file_bytes(path), file_bytes(wal_path(path))
            sizes.append(size)
            print(f"  filled to {size.ledger} ledger rows in {size.fill_s:.0f} s", flush=True)

    # One scan a commit (the steady case) and a writer's batch: their statements differ.
    def scans_alone_and_batched() -> None:
        commit_latencies(service, labels, 3)
        accept(service, pending(labels, FILL_BATCH))

    scan_plans = plans(path, tracer.capture(scans_alone_and_batched))
    stock_plans = plans(path, tracer.capture(lambda: queries.stock(service.engine)))
    backlog_plans = plans(path, tracer.capture(lambda: outbox.backlog(service.engine)))
    # The candidate fix for the backlog count: an index that covers its WHERE and its sum.
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE INDEX bench_outbox_cover ON outbox ({', '.join(COVER)})")
    covered = timed_runs(lambda: outbox.backlog(service.engine), 20)
    covered_plans = plans(path, tracer.capture(lambda: outbox.backlog(service.engine)))
    service.engine.dispose()
    return Results(sizes, per_scan, wal.largest, wal.samples, scan_plans, stock_plans,
                   backlog_plans, covered, covered_plans, table_rows(path))  # fmt: skip


# --- open reorders piling up --------------------------------------------------------------------
@dataclass
class Pile:
    target: int
    open_reorders: int = 0
    fill_s: float = 0.0
    commits: list[float] = field(default_factory=list)


def open_reorders(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM reorders WHERE open").fetchone()[0])


def scraps(count: int) -> list[PendingScan]:
    clock = SystemClock()
    data = f"(01){SCRAPPED_GTIN}".encode()
    return [PendingScan(ScanInput("bench", "SCRAP-1", data, clock.moment()), decode(data))
            for _ in range(count)]  # fmt: skip


def pile_samples(targets: list[int], samples: int) -> int:
    """Scans measured per size: each opens a reorder, so no more than the gap to the next size."""
    gaps = [b - a for a, b in itertools.pairwise(targets)]
    return max(1, min([samples, *gaps]))


def reorder_pile(directory: Path, targets: list[int], samples: int) -> list[Pile]:
    folder = directory / "reorders"
    folder.mkdir()
    (folder / "items.csv").write_text(
        f"part,description,uom,stocked,reorder_point,reorder_qty,aliases\n{SCRAPPED_ITEM}\n"
    )
    (folder / "stock.csv").write_text(f"part,on_hand\n{SCRAPPED},{SCRAPPED_STOCK}\n")
    path = folder / "reorders.db"
    service = service_for(path, [Station("SCRAP-1", StationMode.SCRAP)])
    import_items(service, folder / "items.csv")
    import_stock(service, folder / "stock.csv", now_moment())
    piles = []
    for target in targets:
        pile = Pile(target)
        began = time.perf_counter()
        while (missing := target - open_reorders(path)) > 0:
            accept(service, scraps(min(FILL_BATCH, missing)))
        pile.fill_s = time.perf_counter() - began
        pile.open_reorders = open_reorders(path)
        for item in scraps(samples):
            began = time.perf_counter()
            accept(service, [item])
            pile.commits.append(time.perf_counter() - began)
        piles.append(pile)
        print(f"  {pile.open_reorders} open reorders (filled in {pile.fill_s:.0f} s)", flush=True)
    service.engine.dispose()
    return piles


def report_pile(piles: list[Pile], samples: int) -> None:
    print(f"Open reorders piling up: {SCRAPPED} scrapped with no receipt, one more reorder per "
          f"scrap; {samples} scrap scans per size, one durable commit each (each opens one "
          "more reorder)")  # fmt: skip
    table(["open reorders", "fill s", "scan p50 ms", "scan p99 ms"],
          [[p.open_reorders, f"{p.fill_s:.0f}", ms(median(p.commits)),
            ms(percentile(p.commits, 0.99))] for p in piles])  # fmt: skip
    first, last = piles[0], piles[-1]
    print(f"Verdicts, {last.open_reorders} vs {first.open_reorders} open reorders (flat: "
          f"ratio <= {FLAT_RATIO}):")  # fmt: skip
    for name, fraction in (("scrap scan p50", 0.5), ("scrap scan p99", 0.99)):
        low, high = percentile(first.commits, fraction), percentile(last.commits, fraction)
        ratio = high / low if low > 0 else float("nan")
        verdict = "flat" if ratio <= FLAT_RATIO else "GROWS"
        print(f"  {name:<34} {ms(low):>8} -> {ms(high):>8} ms  x{ratio:5.2f}  {verdict}")
    print()


# --- report ------------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    return percentile(values, 0.5)


METRICS: tuple[tuple[str, Callable[[Size], float]], ...] = (
    ("commit p50", lambda s: median(s.commits)),
    ("commit p99", lambda s: percentile(s.commits, 0.99)),
    ("edge stock (CLI, wall)", lambda s: median(s.cli_stock)),
    ("queries.stock()", lambda s: median(s.query_stock)),
    ("outbox.backlog() (relay, every 2 s)", lambda s: median(s.backlog)),
)


def print_plans(title: str, found: list[Plan], rows: dict[str, int]) -> None:
    print(title)
    for plan in found:
        text = plan.shape if len(plan.shape) <= 110 else plan.shape[:107] + "..."
        print(f"  {plan.count:>3} x {text}")
        for detail in plan.details:
            scanned = ""
            if detail in plan.full_scans:
                name = detail.split()[1]
                kind = "grows with use" if name in GROWING else "catalog-sized"
                scanned = f"   <-- full scan, {rows.get(name, '?')} rows now ({kind})"
            print(f"          {detail}{scanned}")
    print()


def report(results: Results, samples: int, cli_runs: int) -> None:
    print()
    print(f"Ledger filled only through the product (process_scans, {FILL_BATCH} scans per "
          f"durable commit); {results.per_scan} ledger rows per scan")  # fmt: skip
    print(f"commit: {samples} scans, one durable commit each, measured after the fill (they add "
          f"{samples * results.per_scan} ledger rows); edge stock: median of "
          f"{cli_runs} subprocess runs; queries: median of 20 in-process runs")  # fmt: skip
    table(
        ["ledger rows", "fill s", "commit p50 ms", "commit p99 ms", "edge stock ms",
         "edge --help ms", "queries.stock ms", "pending events", "backlog() ms", "db MB",
         "WAL MB"],
        [[s.ledger, f"{s.fill_s:.0f}", ms(median(s.commits)), ms(percentile(s.commits, 0.99)),
          ms(median(s.cli_stock)), ms(median(s.cli_floor)), ms(median(s.query_stock)),
          s.pending, ms(median(s.backlog)), megabytes(s.database), megabytes(s.wal)]
         for s in results.sizes],
    )  # fmt: skip
    rows = results.rows
    shown = ("ledger", "scans", "transactions", "outbox", "shipped_serials", "balances",
             "reorders")  # fmt: skip
    print("rows at the end: " + ", ".join(f"{name} {rows[name]}" for name in shown))
    print(f"load        {load()} at end")
    print()
    print_plans("Query plans of a scan's statements, alone and in a batch (EXPLAIN QUERY PLAN):",
                results.scan_plans, rows)  # fmt: skip
    print_plans("Query plans of queries.stock():", results.stock_plans, rows)
    print_plans("Query plans of outbox.backlog() (the relay counts it every 2 s; edge events "
                "--pending runs alike counts):", results.backlog_plans, rows)  # fmt: skip
    print_plans(f"... with the candidate index on outbox ({', '.join(COVER)}):",
                results.covered_plans, rows)  # fmt: skip

    first, last = results.sizes[0], results.sizes[-1]
    print(f"Verdicts, {last.ledger} vs {first.ledger} ledger rows "
          f"(flat: ratio < {FLAT_RATIO}, a 2-core shared machine is noisy):")  # fmt: skip
    for name, metric in METRICS:
        low, high = metric(first), metric(last)
        ratio = high / low if low > 0 else float("nan")
        verdict = "flat" if ratio < FLAT_RATIO else "GROWS"
        print(f"  {name:<34} {ms(low):>8} -> {ms(high):>8} ms  x{ratio:5.2f}  {verdict}")
    full = [(p.shape, d) for p in results.scan_plans + results.stock_plans for d in p.full_scans]
    growing = [(s, d) for s, d in full if d.split()[1] in GROWING]
    print(
        f"  full scans in a scan's or edge stock's statements: {len(full)}, "
        f"{len(growing)} of them on a table that grows with use"
        + "".join(f"\n    {d}  in  {s[:80]}" for s, d in growing)
    )
    pending, before = last.pending, median(last.backlog)
    after = median(results.covered)
    per_event = before / max(1, pending)
    print(f"  outbox.backlog() grows with the unpublished events, not the ledger: "
          f"{per_event * 1e6:.1f} us per pending event ({pending} now; 1,000,000 would take "
          f"~{per_event * 1e6:.1f} s every 2 s); with the covering index {ms(after)} ms "
          f"(x{before / after:.1f} faster, still linear)")  # fmt: skip
    print(f"  WAL: largest {megabytes(results.wal_largest)} MB over the whole run "
          f"({results.wal_samples} samples every 50 ms), {megabytes(last.wal)} MB at the end: "
          + ("bounded by SQLite's auto-checkpoint (1000 pages)" if results.wal_largest
             < 64 * 1024 * 1024 else "GROWS: checkpoints do not keep up"))  # fmt: skip


def main() -> None:
    args = arguments(__doc__.splitlines()[0], [
        ("--sizes", {"default": "10000,100000,1000000", "help": "ledger sizes, comma-separated"}),
        ("--samples", {"type": int, "default": 300, "help": "commits measured per size"}),
        ("--cli-runs", {"type": int, "default": 5, "help": "edge stock runs per size"}),
        ("--reorders", {"default": "0,100,1000,10000",
                        "help": "open reorder counts, comma-separated"}),
        ("--cases", {"default": "ledger,reorders", "help": "which cases to run"}),
        ("--quick", {"action": "store_true",
                     "help": "10^4 and 10^5 rows, 0/100/1000 reorders, 100 commits each"}),
    ])  # fmt: skip
    targets = [int(size) for size in args.sizes.split(",")]
    piles = [int(count) for count in args.reorders.split(",")]
    cases = set(args.cases.split(","))
    samples = args.samples
    if args.quick:
        targets, piles, samples = [10_000, 100_000], [0, 100, 1000], 100
    with scratch(args) as directory:
        print_machine("growth: scan cost vs ledger size and open reorders", directory)
        print(f"product     {revision()}\n")
        if "ledger" in cases:
            results = measure(directory, targets, samples, args.cli_runs)
            report(results, samples, args.cli_runs)
            print()
        if "reorders" in cases:
            per_size = pile_samples(piles, samples)
            report_pile(reorder_pile(directory, piles, per_size), per_size)


if __name__ == "__main__":
    main()
