"""Scale: 20 serial scanners on ptys through a real ``edge run``, and a deep BOM explosion.

A generated edge.toml binds 20 serial scanners (``kind = "serial"``, the
slave side of ``os.openpty()``, good/bad-read bytes ACK/NAK) to a ship station
whose product explodes through a 3-level BOM to 50 stock components. The
daemon runs as a subprocess (``python -m edge run``); its MQTT broker is a
closed local port, so the relay retries in the background and every event
stays in the outbox (a broker outage, as far as the daemon knows).

* operators: 20 threads, one per pty, each types a serialized label and waits
  for the good-read byte before the next, as an operator does with a scanner
  in host-acknowledged mode;
* flood: every pty gets all its labels at once, as fast as the line takes them;
  the bench counts the feedback bytes.

Both run ``--rounds`` times (default 2) on the same daemon with new labels:
the resident size after each phase shows whether memory levels off.
After the daemon stops (SIGTERM, which drains the queue) the journal is read
back: every typed label must be there exactly once, accepted, with its 50
ledger rows. Peak RSS is the daemon's VmHWM, CPU is its utime + stime over
each phase divided by its scans.

The BOM part explodes a 10-level, 2,000-line BOM with the core's BomGraph:
catalog load, the first (cold) explosion, the memoised one, and a ship scan
of that product through ``InventoryService.process_scans`` on a durable file.

    .venv/bin/python bench/scale.py [--scans 10000] [--rounds 2] [--quick] [--dir DIR]
        [--daemon-env MALLOC_ARENA_MAX=2]
"""

from __future__ import annotations

import csv
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from common import (
    FG,
    Catalog,
    arguments,
    free_port,
    import_catalog,
    load,
    ms,
    percentile,
    print_machine,
    scratch,
    serial_code,
    service_for,
    table,
    write_deep_catalog,
    write_three_level_catalog,
)
from rig import (
    ACK,
    NAK,
    REPO,
    ProcessSample,
    Scanner,
    WalWatch,
    file_bytes,
    megabytes,
    process_sample,
    revision,
    wal_path,
)

from edge.config import load_config
from edge.domain.bom import BomGraph
from edge.domain.model import BomLine
from edge.domain.scanning import ScanInput
from edge.runtime.bootstrap import build_service
from edge.runtime.clock import SystemClock
from edge.service import PendingScan
from edge.store.catalog import CatalogCache
from edge.store.counters import CATALOG, read_counter
from hardware.barcode import decode

SCANNERS = 20
CEILING_S = 30.0  # longest wait for one feedback byte before the scan counts as unanswered
GOAL_RSS_MB = 80
BOM_REPEATS = 200


# --- the daemon ------------------------------------------------------------------------------
def write_config(directory: Path, scanners: list[Scanner]) -> Path:
    blocks = [
        '[site]\nid = "bench"\nnode = "scale"\n',
        '[database]\npath = "edge.db"\n',
        # Nothing listens there: the relay retries with back-off, events stay in the outbox.
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n',
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n',
    ]
    blocks += [
        f'[[scanner]]\nid = "{s.id}"\nstation = "PACK-1"\nkind = "serial"\nurl = "{s.path}"\n'
        'terminator = "cr"\nfeedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
        for s in scanners
    ]
    path = directory / "edge.toml"
    path.write_text("\n".join(blocks))
    return path


def start_daemon(
    config: Path, log: Path, scanners: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=REPO,
        )
    deadline = time.monotonic() + 60
    while log.read_bytes().count(b" connected: ") < scanners:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the daemon did not open its scanners:\n{log.read_text()}")
        time.sleep(0.05)
    return process


# --- the scanners' side ----------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    typed: list[bytes] = field(default_factory=list)
    acks: int = 0
    naks: int = 0
    other: int = 0  # feedback bytes that are neither ACK nor NAK
    unanswered: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_s: float = 0.0
    after: ProcessSample | None = None

    @property
    def rate(self) -> float:
        return len(self.typed) / self.seconds if self.seconds else 0.0

    def count(self, data: bytes) -> None:
        for byte in data:
            if byte == ACK:
                self.acks += 1
            elif byte == NAK:
                self.naks += 1
            else:
                self.other += 1


def labels(prefix: str, scanner: Scanner, count: int) -> list[bytes]:
    return [serial_code(i, f"{prefix}{scanner.index:02d}").encode() for i in range(count)]


def operators(pid: int, scanners: list[Scanner], per_scanner: int, round_: int) -> Phase:
    """Each operator types a label and waits for its feedback byte before the next."""
    phase = Phase(f"round {round_}: {len(scanners)} operators, wait for ACK")
    lock = threading.Lock()
    shares = {s.index: labels(f"A{round_}", s, per_scanner) for s in scanners}

    def operate(scanner: Scanner) -> None:
        latencies: list[float] = []
        heard = bytearray()
        missing = 0
        for code in shares[scanner.index]:
            began = time.perf_counter()
            os.write(scanner.master, code + b"\r")
            ready, _, _ = select.select([scanner.master], [], [], CEILING_S)
            if not ready:
                missing += 1
                continue
            heard += os.read(scanner.master, 64)
            latencies.append(time.perf_counter() - began)
        with lock:
            phase.latencies += latencies
            phase.count(bytes(heard))
            phase.unanswered += missing

    threads = [threading.Thread(target=operate, args=(s,)) for s in scanners]
    before = process_sample(pid)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - start
    phase.after = process_sample(pid)
    phase.cpu_s = phase.after.cpu_s - before.cpu_s
    for scanner in scanners:
        phase.typed += shares[scanner.index]
    return phase


def flood(pid: int, scanners: list[Scanner], per_scanner: int, round_: int) -> Phase:
    """Every pty gets all its labels at once; the bench only counts feedback bytes."""
    phase = Phase(f"round {round_}: {len(scanners)} scanners, flood")
    shares = {s.index: labels(f"F{round_}", s, per_scanner) for s in scanners}
    total = per_scanner * len(scanners)

    def type_all(scanner: Scanner) -> None:
        os.write(scanner.master, b"".join(code + b"\r" for code in shares[scanner.index]))

    writers = [threading.Thread(target=type_all, args=(s,)) for s in scanners]
    by_fd = {s.master: s for s in scanners}
    heard = 0
    before = process_sample(pid)
    start = time.perf_counter()
    for thread in writers:
        thread.start()
    last = time.monotonic()
    while heard < total and time.monotonic() - last < CEILING_S:
        ready, _, _ = select.select(list(by_fd), [], [], 0.5)
        for fd in ready:
            data = os.read(fd, 4096)
            phase.count(data)
            heard += len(data)
            last = time.monotonic()
    phase.seconds = time.perf_counter() - start
    for thread in writers:
        thread.join()
    phase.after = process_sample(pid)
    phase.cpu_s = phase.after.cpu_s - before.cpu_s
    phase.unanswered = total - heard
    for scanner in scanners:
        phase.typed += shares[scanner.index]
    return phase


# --- the journal ---------------------------------------------------------------------------
@dataclass
class Audit:
    typed: int
    journaled_once: int
    missing: int
    journaled_twice: int
    not_accepted: int
    ledger_rows: int
    expected_ledger_rows: int
    outbox_pending: int

    @property
    def lossless(self) -> bool:
        return (self.journaled_once == self.typed and not self.missing
                and not self.journaled_twice and not self.not_accepted
                and self.ledger_rows == self.expected_ledger_rows)  # fmt: skip


def audit(database: Path, typed: list[bytes], components: int) -> Audit:
    with sqlite3.connect(database) as db:
        journal: dict[bytes, list[str]] = {}
        for data, status in db.execute("SELECT data, status FROM scans WHERE scanner != 'cli'"):
            journal.setdefault(bytes(data), []).append(status)
        ledger = db.execute(
            "SELECT count(*) FROM ledger WHERE kind != 'opening' AND scan_id IS NOT NULL"
        ).fetchone()[0]
        pending = db.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
    once = sum(1 for code in typed if len(journal.get(code, ())) == 1)
    missing = sum(1 for code in typed if code not in journal)
    twice = sum(1 for code in typed if len(journal.get(code, ())) > 1)
    refused = sum(1 for code in typed if any(s != "accepted" for s in journal.get(code, ())))
    return Audit(len(typed), once, missing, twice, refused, ledger, components * len(typed),
                 pending)  # fmt: skip


# --- the daemon run ----------------------------------------------------------------------------
@dataclass
class DaemonResults:
    phases: list[Phase]
    audit: Audit
    peak: ProcessSample
    start: ProcessSample
    wal_largest: int
    wal_end: int
    database: int
    components: int


def daemon_run(
    directory: Path, scans: int, *, with_flood: bool, rounds: int, env: dict[str, str]
) -> DaemonResults:
    scanners = [Scanner.open(i) for i in range(SCANNERS)]
    try:
        config = write_config(directory, scanners)
        service = build_service(load_config(config))
        catalog = write_three_level_catalog(directory)
        import_catalog(service, catalog)
        service.engine.dispose()
        database = directory / "edge.db"
        process = start_daemon(config, directory / "daemon.log", SCANNERS, env)
        try:
            start_sample = process_sample(process.pid)
            per_scanner = max(1, scans // SCANNERS)
            with WalWatch(database) as wal:
                phases = []
                for round_ in range(1, rounds + 1):
                    phases.append(operators(process.pid, scanners, per_scanner, round_))
                    if with_flood:
                        phases.append(flood(process.pid, scanners, per_scanner, round_))
            peak = process_sample(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        typed = [code for phase in phases for code in phase.typed]
        result = audit(database, typed, catalog.leaves)
        return DaemonResults(phases, result, peak, start_sample, wal.largest,
                             file_bytes(wal_path(database)), file_bytes(database),
                             catalog.leaves)  # fmt: skip
    finally:
        for scanner in scanners:
            scanner.close()


# --- the deep BOM --------------------------------------------------------------------------------
@dataclass
class BomResults:
    lines: int
    levels: int
    components: int
    catalog_load_s: float
    cold_s: list[float]
    cached_s: list[float]
    for_quantity_s: list[float]
    first_scan_s: float
    scans_s: list[float]


def bom_lines(catalog: Catalog) -> dict[str, list[BomLine]]:
    boms: dict[str, list[BomLine]] = {}
    with catalog.bom.open(newline="") as source:
        for row in csv.DictReader(source):
            boms.setdefault(row["parent"], []).append(BomLine(
                row["parent"], row["component"], Decimal(row["qty_per"]),
                Decimal(row["scrap_pct"])))  # fmt: skip
    return boms


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def deep_bom(directory: Path, levels: int, lines: int, scans: int) -> BomResults:
    folder = directory / "deep"
    folder.mkdir()
    catalog = write_deep_catalog(folder, levels=levels, lines=lines)
    service = service_for(folder / "deep.db")
    import_catalog(service, catalog)

    # Cold: a fresh catalog cache reads the BOMs and items it needs from the file as it explodes.
    cache = CatalogCache()
    with service.engine.connect() as connection:
        began = time.perf_counter()
        loaded = cache.get(connection, read_counter(connection, CATALOG))
        catalog_load = time.perf_counter() - began
        graph = loaded.graph
        first = timed(lambda: graph.consumption(FG))
        explosion = graph.consumption(FG)
        cached = [timed(lambda: graph.consumption(FG)) for _ in range(BOM_REPEATS)]
    # More cold explosions: a new graph over the same lines each time (no file access).
    boms = bom_lines(catalog)
    cold = [first]
    for _ in range(BOM_REPEATS // 10):
        fresh = BomGraph(boms, ())
        cold.append(timed(lambda g=fresh: g.consumption(FG)))
    if fresh.consumption(FG) != explosion:
        raise SystemExit("the BOM read from the file and from the CSV explode differently")
    quantity = Decimal(3)
    per_quantity = [timed(lambda: explosion.for_quantity(quantity)) for _ in range(BOM_REPEATS)]

    # Through a scan: a fresh service (empty catalog cache) ships the deep product.
    service.engine.dispose()
    service = service_for(folder / "deep.db")
    clock = SystemClock()

    def ship(index: int) -> None:
        data = serial_code(index, "D").encode()
        scan = ScanInput(scanner="bench", station="PACK-1", data=data, at=clock.moment())
        [outcome] = service.process_scans([PendingScan(scan, decode(data))])
        if not outcome.good:
            raise SystemExit(f"deep scan not accepted: {outcome}")

    first_scan = timed(lambda: ship(0))
    scan_times = [timed(lambda i=i: ship(i)) for i in range(1, scans + 1)]
    service.engine.dispose()
    return BomResults(catalog.lines, levels, len(explosion.lines), catalog_load, cold, cached,
                      per_quantity, first_scan, scan_times)  # fmt: skip


# --- report ------------------------------------------------------------------------------------
def report_daemon(results: DaemonResults) -> None:
    rows = []
    for phase in results.phases:
        after = phase.after
        rows.append([
            phase.name, len(phase.typed), f"{phase.seconds:.1f}", f"{phase.rate:.1f}",
            phase.acks, phase.naks + phase.other, phase.unanswered,
            ms(percentile(phase.latencies, 0.50)) if phase.latencies else "-",
            ms(percentile(phase.latencies, 0.99)) if phase.latencies else "-",
            f"{phase.cpu_s / len(phase.typed) * 1000:.2f}",
            f"{after.rss_kb / 1024:.1f}" if after else "-",
        ])  # fmt: skip
    table(["phase", "scans", "seconds", "scans/s", "ACKs", "NAK/other", "unanswered",
           "p50 ms", "p99 ms", "CPU ms/scan", "RSS MB"], rows)  # fmt: skip
    print("latency: label typed on the pty to its good-read byte back (operators only)")
    print("CPU: the daemon's utime + stime over the phase / scans (its whole process: readers, "
          "writer, relay)")  # fmt: skip
    a = results.audit
    print()
    table(["journal check", "value"], [
        ["labels typed", a.typed],
        ["journaled exactly once", a.journaled_once],
        ["missing from the journal", a.missing],
        ["journaled more than once", a.journaled_twice],
        ["not accepted", a.not_accepted],
        [f"ledger rows (expected {results.components} per scan)",
         f"{a.ledger_rows} of {a.expected_ledger_rows}"],
        ["events waiting in the outbox (no broker)", a.outbox_pending],
    ])  # fmt: skip
    peak, start = results.peak, results.start
    table(["daemon process", "value"], [
        ["threads", peak.threads],
        ["RSS after start, MB", f"{start.rss_kb / 1024:.1f}"],
        ["RSS at end, MB", f"{peak.rss_kb / 1024:.1f}"],
        ["peak RSS (VmHWM), MB", f"{peak.hwm_kb / 1024:.1f}"],
        ["largest WAL seen (sampled every 0.1 s), MB", megabytes(results.wal_largest)],
        ["WAL after SIGTERM, MB", megabytes(results.wal_end)],
        ["database file, MB", megabytes(results.database)],
    ])  # fmt: skip


def report_bom(bom: BomResults) -> None:
    print(f"Deep BOM: {bom.levels} levels, {bom.lines} BOM lines, explodes to "
          f"{bom.components} stock components")  # fmt: skip
    table(["step", "runs", "p50 ms", "max ms"], [
        ["catalog open (version check; rows are read on demand)", 1, ms(bom.catalog_load_s),
         ms(bom.catalog_load_s)],
        ["cold explosion (first consumption(); the first reads the file)", len(bom.cold_s),
         ms(percentile(bom.cold_s, 0.5)), ms(max(bom.cold_s))],
        ["cached explosion (memoised consumption())", len(bom.cached_s),
         f"{percentile(bom.cached_s, 0.5) * 1000:.4f}", f"{max(bom.cached_s) * 1000:.4f}"],
        ["for_quantity(3) on the cached explosion", len(bom.for_quantity_s),
         ms(percentile(bom.for_quantity_s, 0.5)), ms(max(bom.for_quantity_s))],
        ["ship scan, first after start (cold cache, durable commit)", 1, ms(bom.first_scan_s),
         ms(bom.first_scan_s)],
        ["ship scan, later (cached, durable commit)", len(bom.scans_s),
         ms(percentile(bom.scans_s, 0.5)), ms(max(bom.scans_s))],
    ])  # fmt: skip


def verdicts(results: DaemonResults) -> None:
    print("Verdicts:")
    a = results.audit
    acks = sum(p.acks for p in results.phases)
    lossless = a.lossless and acks == a.typed
    print(f"  zero loss: {a.typed} typed, {a.journaled_once} journaled once, {acks} ACKs  "
          f"{'pass' if lossless else 'FAIL'}")  # fmt: skip
    peak_mb = results.peak.hwm_kb / 1024
    print(f"  peak RSS {peak_mb:.1f} MB with {SCANNERS} scanners (goal < {GOAL_RSS_MB} MB)  "
          f"{'pass' if peak_mb < GOAL_RSS_MB else 'MISS'}")  # fmt: skip
    for phase in results.phases:
        print(
            f"  {phase.name}: {phase.rate:.1f} scans/s, "
            f"{phase.cpu_s / len(phase.typed) * 1000:.2f} ms CPU/scan  (reported, no goal)"
        )
    print(
        f"  WAL stayed at or below {megabytes(results.wal_largest)} MB (SQLite's auto-"
        "checkpoint every 1000 pages; the product sets no journal_size_limit)"
    )


def main() -> None:
    args = arguments(__doc__.splitlines()[0], [
        ("--scans", {"type": int, "default": 10_000, "help": "scans per daemon phase"}),
        ("--quick", {"action": "store_true", "help": "2,000 scans, no flood, smaller BOM runs"}),
        ("--no-flood", {"action": "store_true", "help": "skip the flood phase"}),
        ("--rounds", {"type": int, "default": 2,
                      "help": "operator (+ flood) rounds on one daemon; later rounds show "
                              "whether its memory levels off"}),
        ("--daemon-env", {"action": "append", "default": [], "metavar": "KEY=VALUE",
                          "help": "environment for the daemon, e.g. MALLOC_ARENA_MAX=2"}),
    ])  # fmt: skip
    scans = 2000 if args.quick else args.scans
    rounds = 1 if args.quick else args.rounds
    env = dict(item.split("=", 1) for item in args.daemon_env)
    with scratch(args) as directory:
        print_machine(f"scale: {SCANNERS} serial scanners on ptys through `edge run`", directory)
        print(f"product     {revision()}\n")
        bom = deep_bom(directory, 10, 2000, 5 if args.quick else 20)
        report_bom(bom)
        results = daemon_run(directory, scans, with_flood=not (args.quick or args.no_flood),
                             rounds=rounds, env=env)  # fmt: skip
        print(
            f"{SCANNERS} serial scanners, one ship station, 50-component 3-level BOM, "
            f"{scans} scans per phase, durable WAL database, broker unreachable"
            + (f", daemon environment {env}" if env else "")
        )
        report_daemon(results)
        print(f"load        {load()} at end")
        print()
        verdicts(results)


if __name__ == "__main__":
    main()
