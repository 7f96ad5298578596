"""Memory: ``edge run`` with 20 serial scanners and a 50,000-item catalog, against 80 MB.

The catalog is generated: 46,000 bought parts (most with a GTIN alias, some
with a customer part number too, half with reorder fields), 4,000
assemblies with 8-line BOMs (a quarter stocked, the rest phantoms) and the
benchmarks' 3-level product. It goes in through the product's importers
(``import_items``/``import_bom``, what ``edge import`` calls), timed; the
bought parts get no opening stock (their balances go negative, which memory
does not mind and which takes the stock import's minutes off every run).
The daemon then runs as a subprocess with 20 scanners on ptys and its MQTT
broker a closed port (events wait in the outbox).

Measured from /proc: VmRSS and VmHWM when the daemon is ready and idle, after
each round of scans (20 operators, each waiting for the good-read byte; the
codes spread over many assemblies, GTINs and the serialized product), and
the daemon's resident memory by kind of mapping (smaps): shared libraries,
heap, glibc's per-thread malloc arenas, thread stacks, other anonymous memory.

The breakdown's other lines come from separate ``python -c`` processes on the
same database: the interpreter alone, each group of the daemon's imports, the
catalog cache loaded, and the memoised explosion of every assembly.

With ``--display`` the daemon also serves the station display and /metrics
(``[display] listen``) while it is measured: PAGES station pages stay open (each an
event stream, read by a thread here) and /metrics is scraped every second.

    .venv/bin/python bench/memory.py [--scans 2000] [--rounds 2] [--reuse DB] [--dir DIR]
        [--keep] [--daemon-env MALLOC_ARENA_MAX=2] [--display]
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    FG,
    arguments,
    free_port,
    import_catalog,
    print_machine,
    scratch,
    serial_code,
    table,
    write_three_level_catalog,
)
from rig import REPO, process_sample, revision
from scale import ACK, CEILING_S, SCANNERS, Scanner, start_daemon, write_config

from edge.config import load_config
from edge.domain.gtin import check_digit_ok
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.runtime.bootstrap import build_service

GOAL_MB = 80
ITEMS = 50_000
ASSEMBLIES = 4_000
LINES_PER_BOM = 8
SETTLE_S = 3.0  # after "ready", for the idle sample: start-up allocations done


# --- the catalog -------------------------------------------------------------------------------
def gtin_for(index: int) -> str:
    """A GTIN-13 with a valid check digit, distinct per index."""
    body = f"40{index:010d}"
    return next(body + str(d) for d in range(10) if check_digit_ok(body + str(d)))


@dataclass
class BigCatalog:
    parts: list[str]
    assemblies: list[str]
    gtins: list[str]
    import_s: dict[str, float] = field(default_factory=dict)


def write_big_catalog(directory: Path) -> BigCatalog:
    rng = random.Random(50_000)
    bought = ITEMS - ASSEMBLIES - 70  # the 3-level product brings its own 66 items
    items = ["part,description,uom,stocked,reorder_point,reorder_qty,lead_time_days,aliases"]
    parts, gtins = [], []
    for n in range(bought):
        part = f"RM-{n:06d}"
        parts.append(part)
        aliases = []
        if n % 5 != 0:  # 80 % carry a GTIN
            gtins.append(gtin_for(n))
            aliases.append(gtins[-1])
        if n % 7 == 0:  # some a customer part number too
            aliases.append(f"CUST-{n:06d}")
        reorder = f"{10 + n % 90},{100 + n % 400},{n % 30}" if n % 2 == 0 else ",,"
        uom = ("EA", "M", "KG", "PCS")[n % 4]
        items.append(f"{part},Bought part {n} for line {n % 40},{uom},false,{reorder},"
                     + "|".join(aliases))  # fmt: skip
    assemblies = [f"AS-{n:05d}" for n in range(ASSEMBLIES)]
    bom = ["parent,component,qty_per,scrap_pct"]
    for n, assembly in enumerate(assemblies):
        stocked = n % 4 == 0
        items.append(f"{assembly},Assembly {n},EA,{'true' if stocked else 'false'},,,,")
        # Components: bought parts, and now and then a lower-numbered assembly (no cycles).
        components = set(rng.sample(parts, LINES_PER_BOM - 1))
        components.add(assemblies[n // 2] if n else parts[0])
        bom.extend(f"{assembly},{c},{1 + rng.randrange(4)},{rng.randrange(3)}"
                   for c in sorted(components))  # fmt: skip
    (directory / "big-items.csv").write_text("\n".join(items) + "\n")
    (directory / "big-bom.csv").write_text("\n".join(bom) + "\n")
    return BigCatalog(parts, assemblies, gtins)


def build_database(directory: Path, config: Path, reuse: Path | None) -> BigCatalog:
    big = write_big_catalog(directory)
    if reuse is not None and reuse.exists():
        # The import takes minutes; a copy of an earlier run's database holds the same rows.
        shutil.copyfile(reuse, directory / "edge.db")
        big.import_s["(copied from --reuse)"] = 0.0
        return big
    service = build_service(load_config(config))
    import_catalog(service, write_three_level_catalog(directory))
    for name, step in (
        ("items.csv", lambda: import_items(service, directory / "big-items.csv")),
        ("bom.csv", lambda: import_bom(service, directory / "big-bom.csv")),
    ):
        began = time.perf_counter()
        step()
        big.import_s[name] = time.perf_counter() - began
    service.engine.dispose()
    if reuse is not None:
        with sqlite3.connect(directory / "edge.db") as source, sqlite3.connect(reuse) as target:
            source.backup(target)
    return big


# --- the daemon's memory -------------------------------------------------------------------------
KINDS = ("shared libraries", "other files", "heap (brk)", "main stack", "thread stacks",
         "per-thread malloc arenas", "other anonymous")  # fmt: skip
MALLOC_ARENA = 64 * 1024 * 1024  # glibc's HEAP_MAX_SIZE on 64-bit: one per-thread arena


@dataclass
class Mapping:
    start: int
    end: int
    perms: str
    path: str
    rss_kb: int


def mappings(pid: int) -> list[Mapping]:
    found: list[Mapping] = []
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            found.append(Mapping(start, end, head[1], head[5] if len(head) > 5 else "", 0))
        elif head[0] == "Rss:":
            found[-1].rss_kb = int(head[1])
    return found


def breakdown(pid: int) -> dict[str, int]:
    """Resident kB of the process by kind of mapping.

    A thread stack is an anonymous rw mapping right above a one-page guard;
    a malloc arena is a 64 MiB-aligned anonymous rw mapping whose PROT_NONE
    rest makes up 64 MiB. What is left anonymous is pymalloc's arenas and
    large blocks malloc maps on its own (SQLite's page caches among them).
    """
    maps = mappings(pid)
    page = os.sysconf("SC_PAGE_SIZE")
    kinds = dict.fromkeys(KINDS, 0)
    for index, m in enumerate(maps):
        before = maps[index - 1] if index else None
        after = maps[index + 1] if index + 1 < len(maps) else None
        if m.path == "[heap]":
            kind = "heap (brk)"
        elif m.path == "[stack]":
            kind = "main stack"
        elif m.path.startswith("/") and ".so" in m.path:
            kind = "shared libraries"
        elif m.path.startswith("/"):
            kind = "other files"
        elif (
            m.start % MALLOC_ARENA == 0
            and after is not None
            and after.start == m.end
            and after.perms.startswith("---")
            and after.end - m.start == MALLOC_ARENA
        ):
            kind = "per-thread malloc arenas"  # fmt: skip
        elif (
            before is not None
            and before.end == m.start
            and before.perms.startswith("---")
            and before.end - before.start == page
            and not before.path
        ):
            kind = "thread stacks"  # fmt: skip
        else:
            kind = "other anonymous"
        kinds[kind] += m.rss_kb
    return kinds


@dataclass
class Sample:
    name: str
    rss_kb: int
    hwm_kb: int
    threads: int
    kinds: dict[str, int]


def sample(name: str, pid: int) -> Sample:
    s = process_sample(pid)
    return Sample(name, s.rss_kb, s.hwm_kb, s.threads, breakdown(pid))


# --- scanning ----------------------------------------------------------------------------------
def codes_for(big: BigCatalog, scanner: Scanner, count: int, round_: int) -> list[bytes]:
    """A spread over the catalog: assemblies, GTINs of bought parts, the serialized product."""
    rng = random.Random(round_ * 100 + scanner.index)
    codes = []
    for i in range(count):
        pick = i % 3
        if pick == 0:
            codes.append(rng.choice(big.assemblies))
        elif pick == 1:
            codes.append(rng.choice(big.gtins))
        else:
            codes.append(serial_code(i, f"M{round_}{scanner.index:02d}"))
    return [code.encode() for code in codes]


def scan_round(scanners: list[Scanner], big: BigCatalog, per_scanner: int, round_: int) -> int:
    """Each operator types a code and waits for its feedback byte; the number of ACKs."""
    acks = [0]
    lock = threading.Lock()

    def operate(scanner: Scanner) -> None:
        good = 0
        for code in codes_for(big, scanner, per_scanner, round_):
            os.write(scanner.master, code + b"\r")
            ready, _, _ = select.select([scanner.master], [], [], CEILING_S)
            if ready:
                good += os.read(scanner.master, 64).count(ACK)
        with lock:
            acks[0] += good

    threads = [threading.Thread(target=operate, args=(s,)) for s in scanners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acks[0]


@dataclass
class DaemonRun:
    samples: list[Sample]
    scans: int
    acks: int
    open_db_files: int


PAGES = 4


def watch_display(base: str, stop: threading.Event) -> list[threading.Thread]:
    """PAGES open station pages (their event streams read to the end) and a scrape a second."""
    import urllib.request  # noqa: PLC0415 - only --display needs it

    def page() -> None:
        with urllib.request.urlopen(f"{base}/events?station=PACK-1", timeout=60) as stream:
            while not stop.is_set() and stream.readline():
                pass

    def scrape() -> None:
        while not stop.wait(1.0):
            with urllib.request.urlopen(f"{base}/metrics", timeout=60) as answer:
                answer.read()

    threads = [threading.Thread(target=page, daemon=True) for _ in range(PAGES)]
    threads.append(threading.Thread(target=scrape, daemon=True))
    for thread in threads:
        thread.start()
    return threads


def daemon_run(directory: Path, config: Path, big: BigCatalog, scanners: list[Scanner], *,
               scans: int, rounds: int, env: dict[str, str],
               display: str | None = None) -> DaemonRun:  # fmt: skip
    process = start_daemon(config, directory / "daemon.log", SCANNERS, env)
    samples, acks, typed = [], 0, 0
    watching = threading.Event()
    try:
        if display is not None:
            watch_display(display, watching)
        time.sleep(SETTLE_S)  # a measurement point, not a wait for a condition
        samples.append(sample("ready, idle", process.pid))
        per_scanner = max(1, scans // SCANNERS)
        for round_ in range(1, rounds + 1):
            acks += scan_round(scanners, big, per_scanner, round_)
            typed += per_scanner * SCANNERS
            samples.append(sample(f"after round {round_} ({typed} scans)", process.pid))
        fds = 0
        for link in Path(f"/proc/{process.pid}/fd").iterdir():
            try:
                fds += str(link.readlink()).startswith(str(directory / "edge.db"))
            except OSError:
                continue
    finally:
        watching.set()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return DaemonRun(samples, typed, acks, fds)


# --- the breakdown from separate processes ------------------------------------------------
PROBE = r"""
import json, sys, time
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
steps = [("python", rss())]
import sqlalchemy; steps.append(("sqlalchemy", rss()))
import paho.mqtt.client; steps.append(("paho-mqtt", rss()))
import serial, serial.tools.list_ports; steps.append(("pyserial", rss()))
import biip; steps.append(("biip", rss()))
import edge.cli.main, edge.runtime.daemon, edge.runtime.bootstrap, edge.publish.relay
import edge.scanpath.writer, edge.scanpath.readers, hardware.serial.reader
steps.append(("edge, hardware", rss()))
if len(sys.argv) > 1:
    from edge.store.catalog import CatalogCache
    from edge.store.counters import CATALOG, read_counter
    from edge.store.database import create_database_engine
    engine = create_database_engine(Path(sys.argv[1]))
    with engine.connect() as connection:
        began = time.perf_counter()
        catalog = CatalogCache().get(connection, read_counter(connection, CATALOG))
        steps.append(("catalog loaded", rss(), time.perf_counter() - began))
        graph = catalog.graph if hasattr(catalog, "graph") else None
        parents = [r[0] for r in connection.exec_driver_sql(
            "SELECT DISTINCT parent FROM bom_lines")]
        began = time.perf_counter()
        for part in parents:
            catalog.graph.consumption(part)
        steps.append(("every assembly exploded", rss(), time.perf_counter() - began))
print(json.dumps(steps))
"""


def probe(database: Path | None) -> list[list[object]]:
    argv = [sys.executable, "-c", PROBE] + ([str(database)] if database else [])
    out = subprocess.run(argv, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return list(json.loads(out))


# --- report --------------------------------------------------------------------------------------
def mb(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def report(big: BigCatalog, run: DaemonRun, steps: list[list[object]]) -> None:
    print(f"catalog: {ITEMS} items ({len(big.gtins)} GTINs), {ASSEMBLIES} assemblies with "
          f"{LINES_PER_BOM}-line BOMs, plus the 3-level {FG}")  # fmt: skip
    table(["import (product's importers)", "seconds"],
          [[name, f"{s:.1f}"] for name, s in big.import_s.items()])  # fmt: skip
    print()
    kinds = list(run.samples[0].kinds)
    table(["daemon", "VmRSS MB", "VmHWM MB", "threads", *kinds],
          [[s.name, mb(s.rss_kb), mb(s.hwm_kb), s.threads, *(mb(s.kinds[k]) for k in kinds)]
           for s in run.samples])  # fmt: skip
    print(f"scans {run.scans}, good-read bytes {run.acks}; descriptors open on edge.db* "
          f"{run.open_db_files}")  # fmt: skip
    print()
    rows, previous = [], 0
    for step in steps:
        name, kb = str(step[0]), int(str(step[1]))
        extra = f" ({float(str(step[2])) * 1000:.0f} ms)" if len(step) > 2 else ""
        rows.append([name + extra, mb(kb), f"+{mb(kb - previous)}"])
        previous = kb
    table(["python -c, step by step", "VmRSS MB", "step MB"], rows)
    print()
    end = run.samples[-1]
    print("Verdicts:")
    for s in (run.samples[0], end):
        verdict = "pass" if s.hwm_kb / 1024 < GOAL_MB else "MISS"
        print(f"  {s.name}: VmHWM {mb(s.hwm_kb)} MB, VmRSS {mb(s.rss_kb)} MB "
              f"(goal < {GOAL_MB} MB)  {verdict}")  # fmt: skip
    print(f"  every scan answered with a good read: {run.acks} of {run.scans}  "
          f"{'pass' if run.acks == run.scans else 'FAIL'}")  # fmt: skip


def main() -> None:
    args = arguments(__doc__.splitlines()[0], [
        ("--scans", {"type": int, "default": 2000, "help": "scans per round"}),
        ("--rounds", {"type": int, "default": 2, "help": "rounds of scans on one daemon"}),
        ("--daemon-env", {"action": "append", "default": [], "metavar": "KEY=VALUE",
                          "help": "environment for the daemon, e.g. MALLOC_ARENA_MAX=2"}),
        ("--reuse", {"type": Path, "help": "a database file: copied in if it exists (no "
                     "import), else written after the import for the next run; one of an "
                     "older schema makes the daemon upgrade it (edge migrate, as a child)"}),
        ("--display", {"action": "store_true", "help": "serve the station display and "
                       "/metrics while measured, with pages open and a scrape a second"}),
    ])  # fmt: skip
    with scratch(args) as directory:
        print_machine(f"memory: {SCANNERS} serial scanners, {ITEMS} items, `edge run`", directory)
        print(f"product     {revision()}\n")
        scanners = [Scanner.open(i) for i in range(SCANNERS)]
        try:
            config = write_config(directory, scanners)
            display = None
            if args.display:
                port = free_port()
                with config.open("a") as file:
                    file.write(f'\n[display]\nlisten = "127.0.0.1:{port}"\n')
                display = f"http://127.0.0.1:{port}"
            big = build_database(directory, config, args.reuse)
            run = daemon_run(directory, config, big, scanners, scans=args.scans, rounds=args.rounds,
                             env=dict(item.split("=", 1) for item in args.daemon_env),
                             display=display)  # fmt: skip
        finally:
            for scanner in scanners:
                scanner.close()
        steps = probe(directory / "edge.db")
        report(big, run, steps)


if __name__ == "__main__":
    main()
