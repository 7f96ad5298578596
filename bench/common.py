"""Shared parts of the benchmarks: the machine, the scratch directory, catalogs, tables.

Every benchmark measures the product and its physical limit in the same run,
in one scratch directory, so both see the same disk and the same noise.
Here too: the raw ``sqlite3`` limits (bare tables with the rows the product
wrote, or a replay into its schema), repeated runs reduced to a median and a
spread with a table of bars, and ``edge run`` on pty scanners with our own
mosquitto (:func:`daemon_on_ptys`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(REPO))

from edge.config import load_config  # noqa: E402
from edge.domain.inventory import Identity  # noqa: E402
from edge.domain.model import Station, StationMode  # noqa: E402
from edge.domain.ports import Moment  # noqa: E402
from edge.masterdata.bom import import_bom  # noqa: E402
from edge.masterdata.items import import_items  # noqa: E402
from edge.masterdata.stock import import_stock  # noqa: E402
from edge.runtime.bootstrap import build_service  # noqa: E402
from edge.service import InventoryService  # noqa: E402
from edge.store.database import PRAGMAS, open_database  # noqa: E402

GTIN = "09506000134352"
FG = "FG-BENCH"
TOPIC_PREFIX = "backflush/bench/edge"
OPENING_STOCK = "1000000000"


# --- command line and scratch directory -----------------------------------------
def arguments(description: str, extra: Sequence[tuple[str, dict]] = ()) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--dir",
        type=Path,
        help="put the scratch directory here (default: a temp dir on the working tree's "
        "filesystem)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    for flag, options in extra:
        parser.add_argument(flag, **options)
    return parser.parse_args()


def free_port() -> int:
    """A free loopback port, never 1883 (where the machine's own broker listens)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port != 1883:
            return port


def default_parent() -> Path:
    """The system temp dir if it is on the working tree's filesystem, else the tree itself."""
    temp = Path(tempfile.gettempdir())
    if temp.stat().st_dev == REPO.stat().st_dev:
        return temp
    return REPO


@contextlib.contextmanager
def scratch(args: argparse.Namespace) -> Iterator[Path]:
    parent = args.dir if args.dir is not None else default_parent()
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="edge-bench-", dir=parent))
    try:
        yield path
    finally:
        if args.keep:
            print(f"\nscratch directory kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# --- the machine --------------------------------------------------------------------
def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def filesystem(path: Path) -> str:
    """Type and device of the filesystem holding ``path`` (from /proc/mounts)."""
    real = str(path.resolve())
    best = ("?", "?", "")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            inside = real == mount or real.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[2]):
                best = (kind, device, mount)
    return f"{best[0]} on {best[1]} (mounted at {best[2]})"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def print_machine(title: str, directory: Path) -> None:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(f"# {title}")
    print(f"date        {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"cpu         {_cpu_model()}, {cores} cores ({usable} usable)")
    print(f"python      {platform.python_implementation()} {platform.python_version()}")
    print(f"sqlite      {sqlite3.sqlite_version}")
    print(f"kernel      {platform.system()} {platform.release()}")
    print(f"filesystem  {filesystem(directory)}")
    print(f"directory   {directory}")
    print(f"load        {load()} at start")
    print()


# --- the product ----------------------------------------------------------------------
def service_for(path: Path, stations: Sequence[Station] | None = None) -> InventoryService:
    """The product's service on the database file at ``path`` (migrated on open)."""
    return InventoryService(
        open_database(path),
        Identity(site="bench", node="edge"),
        TOPIC_PREFIX,
        stations or [Station("PACK-1", StationMode.SHIP)],
    )


def now_moment() -> Moment:
    return Moment(datetime.now(UTC), time.monotonic(), "bench")


@dataclass(frozen=True)
class Catalog:
    items: Path
    bom: Path
    stock: Path
    leaves: int
    lines: int


def write_three_level_catalog(directory: Path) -> Catalog:
    """A shipped product over 50 stock components, 3 BOM levels, phantoms in between.

    FG-BENCH (phantom) -> 5 x PH-Ln (phantom) -> 2 x PH-Ln-m (phantom) -> 5 x RM
    parts. Every RM part has a reorder policy and an opening stock far above it,
    so no low-stock or reorder event fires during a run.
    """
    items = ["part,description,uom,stocked,reorder_point,reorder_qty,aliases"]
    bom = ["parent,component,qty_per,scrap_pct"]
    items.append(f"{FG},Benchmark pump,EA,false,,,{GTIN}")
    leaves: list[str] = []
    for a in range(5):
        level1 = f"PH-L{a}"
        items.append(f"{level1},Phantom kit {a},EA,false,,,")
        bom.append(f"{FG},{level1},1,0")
        for b in range(2):
            level2 = f"PH-L{a}-{b}"
            items.append(f"{level2},Phantom kit {a}.{b},EA,false,,,")
            bom.append(f"{level1},{level2},1,0")
            for c in range(5):
                leaf = f"RM-{a}{b}{c:02d}"
                leaves.append(leaf)
                items.append(f"{leaf},Raw material {a}.{b}.{c},EA,false,10,100,")
                bom.append(f"{level2},{leaf},{c + 1},{c % 3}")
    return _write_catalog(directory, items, bom, leaves)


def write_deep_catalog(directory: Path, levels: int = 10, lines: int = 2000) -> Catalog:
    """``levels`` BOM levels and ``lines`` BOM lines in all, phantoms down to stock parts.

    Each level has the same number of phantom assemblies; every assembly has
    one child on the next level (so every level is reached) and stock parts.
    """
    per_level = 4
    items = ["part,description,uom,stocked,reorder_point,reorder_qty,aliases"]
    bom = ["parent,component,qty_per,scrap_pct"]
    items.append(f"{FG},Deep product,EA,false,,,{GTIN}")
    assemblies = [[f"PH-{level}-{n}" for n in range(per_level)] for level in range(1, levels)]
    for level_parts in assemblies:
        items.extend(f"{part},Phantom,EA,false,,," for part in level_parts)
    parents = [[FG], *assemblies]
    leaves = [f"RM-{n:04d}" for n in range(300)]
    items.extend(f"{leaf},Raw,EA,false,10,100," for leaf in leaves)
    count = 0
    for level, level_parents in enumerate(parents):
        children = assemblies[level] if level < len(assemblies) else []
        for index, parent in enumerate(level_parents):
            for child in children if level == 0 else children[index : index + 2] or children[:1]:
                bom.append(f"{parent},{child},2,0")
                count += 1
    # Spread the remaining lines over every assembly as stock parts.
    all_parents = [part for level_parents in parents for part in level_parents]
    used: set[tuple[str, str]] = set()
    cursor = 0
    while count < lines:
        parent = all_parents[cursor % len(all_parents)]
        leaf = leaves[(cursor * 7) % len(leaves)]
        cursor += 1
        if (parent, leaf) in used:
            continue
        used.add((parent, leaf))
        bom.append(f"{parent},{leaf},{1 + cursor % 4},{cursor % 5}")
        count += 1
    return _write_catalog(directory, items, bom, leaves)


def _write_catalog(directory: Path, items: list[str], bom: list[str], leaves: list[str]) -> Catalog:
    items_path = directory / "items.csv"
    bom_path = directory / "bom.csv"
    stock_path = directory / "stock.csv"
    items_path.write_text("\n".join(items) + "\n")
    bom_path.write_text("\n".join(bom) + "\n")
    stock_path.write_text(
        "part,on_hand\n" + "".join(f"{leaf},{OPENING_STOCK}\n" for leaf in leaves)
    )
    return Catalog(items_path, bom_path, stock_path, len(leaves), len(bom) - 1)


def import_catalog(service: InventoryService, catalog: Catalog, *, stock: bool = True) -> None:
    """Through the product's own importer, as `edge import` does."""
    import_items(service, catalog.items)
    import_bom(service, catalog.bom)
    if stock:
        import_stock(service, catalog.stock, now_moment())


def serial_code(index: int, prefix: str = "S") -> str:
    """A serialized GS1 label of the benchmark product: every scan is a new unit."""
    return f"(01){GTIN}(21){prefix}{index:07d}"


# --- a measured run ---------------------------------------------------------------------
@dataclass
class Run:
    name: str
    scans: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)

    def add(self, other: Run) -> None:
        self.scans += other.scans
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.batches += other.batches

    @property
    def rate(self) -> float:
        return self.scans / self.seconds if self.seconds else 0.0


class Labels:
    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> list[bytes]:
        codes = [serial_code(self.next + i).encode() for i in range(count)]
        self.next += count
        return codes


# --- raw sqlite3, the physical limit ----------------------------------------------------

# Tables the product appends to, and tables whose rows it updates in place.
APPEND_TABLES = ("scans", "transactions", "ledger", "outbox", "shipped_serials", "reorders",
                 "bom_structures")  # fmt: skip
KEYED_TABLES = ("balances", "stock_state", "station_state", "counters")


def _columns(db: sqlite3.Connection, name: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({name})")]


def snapshot(path: Path) -> dict[str, int]:
    """Row counts and in-place-update witnesses, read from the product's file."""
    with sqlite3.connect(path) as db:
        counts = {name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                  for name in APPEND_TABLES}  # fmt: skip
        counts["transactions.event_id"] = db.execute(
            "SELECT count(*) FROM transactions WHERE event_id IS NOT NULL"
        ).fetchone()[0]
        # A part's balance is saved once per transaction that touched it.
        counts["balances"] = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT txn_id, part FROM ledger)"
        ).fetchone()[0]
        # A transaction restates the stock state of every stocked part it touched. The
        # product may write one upsert per part per batch; a scan committed alone
        # writes its own, so that is what the one-transaction-per-scan limit writes.
        counts["stock_state"] = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT txn_id, part FROM ledger "
            "WHERE part IN (SELECT part FROM stock_state))"
        ).fetchone()[0]
        # seq is raised once per event; "unpublished" once per event too (by a trigger).
        seq = db.execute("SELECT coalesce(max(value), 0) FROM counters WHERE name = 'seq'")
        counts["counters"] = seq.fetchone()[0] + counts["outbox"]
        # An accepted part scan clears its station's pending QTY/RSN: one upsert.
        counts["station_state"] = db.execute(
            "SELECT count(*) FROM scans WHERE status = 'accepted'"
        ).fetchone()[0]
    return counts


def row_sizes(path: Path) -> dict[str, int]:
    """Average stored bytes per row (sum of column lengths) of each written table."""
    sizes: dict[str, int] = {}
    with sqlite3.connect(path) as db:
        for name in (*APPEND_TABLES, *KEYED_TABLES):
            columns = _columns(db, name)
            expression = " + ".join(f"coalesce(length({c}), 0)" for c in columns)
            value = db.execute(f"SELECT avg({expression}) FROM {name}").fetchone()[0]
            sizes[name] = max(8, int(value or 8))
    return sizes


def keyed_rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                for name in KEYED_TABLES}  # fmt: skip


@dataclass(frozen=True)
class RawPlan:
    """Rows per scan and their sizes, as the product wrote them."""

    inserts: dict[str, int]  # table -> rows appended per scan
    updates: dict[str, int]  # table -> rows updated in place per scan
    sizes: dict[str, int]
    keys: dict[str, int]  # keyed table -> rows it holds

    @property
    def rows(self) -> int:
        return sum(self.inserts.values()) + sum(self.updates.values())


class Baseline:
    """A physical limit: raw sqlite3 transactions, timed like the product's commits."""

    def transaction(self, scans: int = 1) -> None:
        raise NotImplementedError

    def run(self, scans: int, per_transaction: int = 1) -> Run:
        run = Run(f"raw sqlite3, {per_transaction} scan(s)/txn")
        start = time.perf_counter()
        done = 0
        while done < scans:
            size = min(per_transaction, scans - done)
            began = time.perf_counter()
            self.transaction(size)
            run.latencies.extend([time.perf_counter() - began] * size)
            run.batches.append(size)
            done += size
        run.seconds = time.perf_counter() - start
        run.scans = scans
        return run


class RawBaseline(Baseline):
    def __init__(self, path: Path, plan: RawPlan) -> None:
        self.plan = plan
        self.db = raw_connection(path)
        self.payload = {name: "x" * size for name, size in plan.sizes.items()}
        for name in plan.inserts:
            self.db.execute(f"CREATE TABLE raw_{name} (id INTEGER PRIMARY KEY, payload TEXT)")
        for name in KEYED_TABLES:
            self.db.execute(f"CREATE TABLE raw_{name} (key TEXT PRIMARY KEY, payload TEXT)")
            self.db.executemany(
                f"INSERT INTO raw_{name} VALUES (?, ?)",
                [(f"key-{i}", self.payload[name]) for i in range(max(1, plan.keys[name]))],
            )
        self.cursor = 0

    def transaction(self, scans: int = 1) -> None:
        """One durable transaction writing ``scans`` scans' worth of rows."""
        db, plan = self.db, self.plan
        db.execute("BEGIN IMMEDIATE")
        for _ in range(scans):
            for name, count in plan.inserts.items():
                if count:
                    rows = [(self.payload[name],)] * count
                    db.executemany(f"INSERT INTO raw_{name} (payload) VALUES (?)", rows)
            for name, count in plan.updates.items():
                if not count:
                    continue
                if name in KEYED_TABLES:
                    keys = max(1, plan.keys[name])
                    rows = [(f"key-{(self.cursor + i) % keys}", self.payload[name])
                            for i in range(count)]  # fmt: skip
                    db.executemany(
                        f"INSERT INTO raw_{name} VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET payload = excluded.payload",
                        rows,
                    )
                else:  # rows just appended, updated again (e.g. a transaction's event id)
                    db.execute(
                        f"UPDATE raw_{name} SET payload = ? WHERE id IN "
                        f"(SELECT id FROM raw_{name} ORDER BY id DESC LIMIT ?)",
                        (self.payload[name], count),
                    )
            self.cursor += 1
        db.execute("COMMIT")


class ReplayBaseline(Baseline):
    """Raw sqlite3 writing again, per scan, exactly the rows one product scan wrote.

    Works on a copy of the product's database, so the rows land in the same
    tables with the same indexes, foreign keys and triggers: the work any
    program keeping this data must do. Per scan it inserts copies of the
    newest scan's journal row, transaction, ledger rows, shipped serial and
    outbox event (with new keys), and rewrites that scan's balances, stock
    states, station state and counters. No reads, no Python objects, no
    JSON: only the writes.
    """

    def __init__(self, product: Path, path: Path) -> None:
        source = sqlite3.connect(product)
        self.db = raw_connection(path)
        source.backup(self.db)
        source.close()
        db = self.db
        scan = db.execute("SELECT * FROM scans ORDER BY id DESC LIMIT 1").fetchone()
        self.scan = scan[1:]  # without the id
        txn = db.execute(
            "SELECT * FROM transactions WHERE scan_id = ? ORDER BY id LIMIT 1", (scan[0],)
        ).fetchone()
        self.txn_columns = _columns(db, "transactions")
        self.txn = dict(zip(self.txn_columns, txn, strict=True))
        self.ledger = db.execute(
            "SELECT part, quantity, kind, bom_hash FROM ledger WHERE txn_id = ?", (txn[0],)
        ).fetchall()
        self.serial = db.execute(
            "SELECT gtin FROM shipped_serials WHERE txn_id = ?", (txn[0],)
        ).fetchone()
        self.event = db.execute(
            "SELECT type, topic, payload, created_at FROM outbox WHERE event_id = ?",
            (self.txn["event_id"],),
        ).fetchone()
        parts = [row[0] for row in self.ledger]
        marks = ",".join("?" * len(parts))
        self.balances = db.execute(
            f"SELECT part, on_hand, armed FROM balances WHERE part IN ({marks})", parts
        ).fetchall()
        self.stock = db.execute(
            f"SELECT part, topic, payload FROM stock_state WHERE part IN ({marks})", parts
        ).fetchall()
        self.station = db.execute(
            "SELECT * FROM station_state WHERE station = ?", (scan[2],)
        ).fetchone()
        self.station_columns = _columns(db, "station_state")
        self.cursor = 0

    def rows_per_scan(self) -> int:
        """Rows inserted or updated per scan (triggers' updates not counted)."""
        serial = 1 if self.serial else 0
        return 4 + len(self.ledger) + serial + len(self.balances) + len(self.stock) + 2

    def transaction(self, scans: int = 1) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        for _ in range(scans):
            self.cursor += 1
            marks = ",".join("?" * len(self.scan))
            scan_id = db.execute(
                f"INSERT INTO scans ({','.join(_columns(db, 'scans')[1:])}) VALUES ({marks})",
                self.scan,
            ).lastrowid
            txn = {**self.txn, "scan_id": scan_id, "event_id": None}
            columns = self.txn_columns[1:]
            txn_id = db.execute(
                f"INSERT INTO transactions ({','.join(columns)}) "
                f"VALUES ({','.join('?' * len(columns))})",
                [txn[column] for column in columns],
            ).lastrowid
            db.executemany(
                "INSERT INTO ledger (txn_id, part, quantity, kind, scan_id, bom_hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(txn_id, part, quantity, kind, scan_id, bom_hash)
                 for part, quantity, kind, bom_hash in self.ledger],
            )  # fmt: skip
            if self.serial:
                db.execute(
                    "INSERT INTO shipped_serials (gtin, serial, txn_id) VALUES (?, ?, ?)",
                    (self.serial[0], f"REPLAY-{self.cursor}", txn_id),
                )
            (seq,) = db.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
            ).fetchone()
            event_id = f"replay-{self.cursor}"
            db.execute(
                "INSERT INTO outbox (seq, event_id, type, topic, payload, created_at, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, 0)",
                (seq, event_id, *self.event),
            )
            db.execute("UPDATE transactions SET event_id = ? WHERE id = ?", (event_id, txn_id))
            db.executemany(
                "UPDATE balances SET on_hand = ?, armed = ? WHERE part = ?",
                [(on_hand, armed, part) for part, on_hand, armed in self.balances],
            )
            db.executemany(
                "UPDATE stock_state SET topic = ?, payload = ?, version = version + 1 "
                "WHERE part = ?",
                [(topic, payload, part) for part, topic, payload in self.stock],
            )
            columns = self.station_columns[1:]
            db.execute(
                f"UPDATE station_state SET {', '.join(f'{c} = ?' for c in columns)} "
                "WHERE station = ?",
                (*self.station[1:], self.station[0]),
            )
        db.execute("COMMIT")


def plan_from(path: Path, before: dict[str, int], after: dict[str, int], scans: int) -> RawPlan:
    def per_scan(key: str) -> int:
        return round((after[key] - before[key]) / scans)

    inserts = {name: per_scan(name) for name in APPEND_TABLES}
    updates = {name: per_scan(name) for name in KEYED_TABLES}
    updates["transactions"] = per_scan("transactions.event_id")
    return RawPlan(inserts, updates, row_sizes(path), keyed_rows(path))


def raw_connection(path: Path) -> sqlite3.Connection:
    """sqlite3 with the product's pragmas and no driver-managed transactions."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    return connection


# --- numbers ------------------------------------------------------------------------------
def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 1000 samples is the 990th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(header), *(len(row[i]) for row in cells)) if cells else len(header)
        for i, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        first, *rest = values
        return "  ".join(
            [first.ljust(widths[0]), *(v.rjust(w) for v, w in zip(rest, widths[1:], strict=True))]
        )

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print(line(row))
    print()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# --- a daemon process and its files ---------------------------------------------------------
@dataclass(frozen=True)
class ProcessSample:
    """What /proc says about a process at one moment."""

    cpu_s: float  # utime + stime
    rss_kb: int  # VmRSS
    hwm_kb: int  # VmHWM: peak resident set size
    threads: int


def process_sample(pid: int) -> ProcessSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime: fields 14 and 15 of stat
    status: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    return ProcessSample(
        cpu_s=cpu,
        rss_kb=int(status["VmRSS"].split()[0]),
        hwm_kb=int(status["VmHWM"].split()[0]),
        threads=int(status["Threads"]),
    )


def file_bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def wal_path(database: Path) -> Path:
    return database.with_name(database.name + "-wal")


class WalWatch:
    """Samples the size of a database's WAL file in a thread; keeps the largest."""

    def __init__(self, database: Path, every_s: float = 0.1) -> None:
        self.path = wal_path(database)
        self.every_s = every_s
        self.largest = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every_s)

    def sample(self) -> int:
        size = file_bytes(self.path)
        self.largest = max(self.largest, size)
        self.samples += 1
        return size

    def __enter__(self) -> WalWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def revision() -> str:
    """The commit the product was measured at, and whether edge/ or hardware/ had changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
        changed = subprocess.run(["git", "status", "--porcelain", "--", "edge", "hardware"],
                                 cwd=REPO, check=True, capture_output=True,
                                 text=True).stdout.split("\n")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    files = [line[3:] for line in changed if line.strip()]
    return head + (f" + uncommitted: {', '.join(files)}" if files else "")


# --- a run repeated: medians, spread and the bars -------------------------------------------
def runs_arguments(default_runs: int = 3) -> list[tuple[str, dict]]:
    """--runs and --quick, the options every repeated bench takes."""
    return [
        ("--runs", {"type": int, "default": default_runs,
                    "help": f"independent runs; medians and spread over them (default "
                            f"{default_runs})"}),
        ("--quick", {"action": "store_true", "help": "a smoke run: one short run"}),
    ]  # fmt: skip


@dataclass(frozen=True)
class Spread:
    """One headline number over repeated runs: its median and its range."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        ordered = sorted(self.values)
        middle = len(ordered) // 2
        if not ordered:
            return float("nan")
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    def range(self, unit: Callable[[float], str]) -> str:
        if not self.values:
            return "-"
        return f"{unit(min(self.values))} .. {unit(max(self.values))}"


@dataclass(frozen=True)
class Bar:
    """A quality bar judged on the median of its runs; ``met`` is None when only reported."""

    name: str
    goal: str
    spread: Spread
    unit: Callable[[float], str]
    met: Callable[[float], bool] | None = None

    def row(self) -> list[object]:
        if not self.spread.values:
            return [self.name, self.goal, "not reported by this build", "-", "-"]
        median = self.spread.median
        verdict = "-" if self.met is None else ("yes" if self.met(median) else "no")
        return [self.name, self.goal, self.unit(median), self.spread.range(self.unit), verdict]


def journal_bar(name: str, problems: Sequence[int]) -> Bar:
    """Every run's typed codes journaled once and answered: met only when no run had a problem."""
    return Bar(name, "0, every run", Spread(tuple(float(count) for count in problems)),
               lambda x: f"{x:.0f}", lambda _x: not any(problems))  # fmt: skip


def print_bars(title: str, bars: Sequence[Bar], runs: int) -> None:
    print(f"{title} ({runs} run{'s' if runs != 1 else ''}; median, spread min .. max)")
    table(["bar", "goal", "median", "spread", "met"], [bar.row() for bar in bars])


# --- serial scanners on ptys, our own broker, the daemon --------------------------------------
ACK, NAK = 0x06, 0x15  # the good-read and bad-read bytes the benches' scanners are given


@dataclass
class Scanner:
    """A serial scanner: the daemon opens the slave side of a pty, the bench types on the master."""

    index: int
    master: int
    slave: int
    path: str

    @property
    def id(self) -> str:
        return f"scanner-{self.index:02d}"

    @classmethod
    def open(cls, index: int) -> Scanner:
        master, slave = os.openpty()
        return cls(index, master, slave, os.ttyname(slave))

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def in_raw_mode(self) -> bool:
        """Whether the port was set up by its reader: no echo, no line editing.

        Bytes typed before that would be echoed back and edited by the line
        discipline, so a bench types only after it.
        """
        lflag = termios.tcgetattr(self.master)[3]
        return not lflag & (termios.ECHO | termios.ICANON)

    def config_block(self, station: str) -> str:
        return (f'[[scanner]]\nid = "{self.id}"\nstation = "{station}"\nkind = "serial"\n'
                f'url = "{self.path}"\nterminator = "crlf"\nfeedback_good = "\\u0006"\n'
                'feedback_bad = "\\u0015"\n')  # fmt: skip


def wait_reading(scanners: Sequence[Scanner], warm_up: Callable[[Scanner], bytes],
                 ceiling_s: float = 60.0) -> int:  # fmt: skip
    """Wait until every scanner answers a warm-up code with ACK; the warm-up codes typed.

    Readiness is the product's own answer (its good-read byte), not a log
    line: each port must be in raw mode, then one code must come back ACKed.
    """
    deadline = time.monotonic() + ceiling_s
    typed = 0
    for scanner in scanners:
        while not scanner.in_raw_mode():
            if time.monotonic() > deadline:
                raise SystemExit(f"{scanner.id} was never opened by the daemon")
            time.sleep(0.02)
    for scanner in scanners:
        heard = b""
        while ACK not in heard:
            os.write(scanner.master, warm_up(scanner) + b"\r\n")
            typed += 1
            ready, _, _ = select.select([scanner.master], [], [], 2.0)
            if ready:
                heard += os.read(scanner.master, 4096)
            if time.monotonic() > deadline:
                raise SystemExit(f"{scanner.id} never acknowledged a warm-up code ({heard!r})")
    return typed


MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """Our own mosquitto on a free loopback port (never 1883), no persistence."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning"]  # fmt: skip
        if os.geteuid() == 0:
            lines.append("user root")
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Broker:
        if not Path(MOSQUITTO).exists():
            raise SystemExit(f"{MOSQUITTO} is missing (apt-get install mosquitto)")
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=sink,
                                            stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"mosquitto exited on start:\n{self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("mosquitto did not accept connections") from None
                time.sleep(0.02)

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)


def daemon_config(directory: Path, broker_port: int, scanners: Sequence[Scanner],
                  station: str = "PACK-1") -> Path:  # fmt: skip
    """An edge.toml: one ship station, the scanners on their ptys, our broker."""
    blocks = ['[site]\nid = "bench"\nnode = "edge"\n', '[database]\npath = "edge.db"\n',
              f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n',
              f'[[station]]\nid = "{station}"\nmode = "ship"\n',
              *(scanner.config_block(station) for scanner in scanners)]  # fmt: skip
    path = directory / "edge.toml"
    path.write_text("\n".join(blocks))
    return path


def start_daemon(config: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m edge run`` as a subprocess, its output in ``log``."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config)],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=REPO,
        )  # fmt: skip


def stop_daemon(process: subprocess.Popen, ceiling_s: float = 60.0) -> int:
    """SIGTERM (the writer drains its queue and says what it did), then its exit code."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(ceiling_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise SystemExit(f"the daemon did not stop within {ceiling_s:g} s") from None


@dataclass
class RunningDaemon:
    """An ``edge run`` on ptys with its broker; the exit code once it stopped."""

    process: subprocess.Popen
    scanners: list[Scanner]
    database: Path
    log: Path
    before: dict[str, int]  # snapshot() of the database before the daemon started
    warm_ups: int = 0
    exit_code: int | None = None


@contextlib.contextmanager
def daemon_on_ptys(folder: Path, count: int) -> Iterator[RunningDaemon]:
    """A fresh database with the 7-component catalog, ``count`` pty scanners, our broker,
    and the daemon, yielded once every scanner has acknowledged a warm-up code."""
    folder.mkdir()
    scanners = [Scanner.open(i) for i in range(count)]
    warm = iter(range(10**9))

    def warm_up(scanner: Scanner) -> bytes:
        return serial_code(next(warm), f"W{scanner.index:02d}").encode()

    try:
        with Broker(folder) as broker:
            config = daemon_config(folder, broker.port, scanners)
            service = build_service(load_config(config))
            import_catalog(service, write_seven_component_catalog(folder))
            service.engine.dispose()
            database = folder / "edge.db"
            log = folder / "daemon.log"
            daemon = RunningDaemon(start_daemon(config, log), scanners, database, log,
                                   snapshot(database))  # fmt: skip
            try:
                daemon.warm_ups = wait_reading(scanners, warm_up)
                yield daemon
            finally:
                daemon.exit_code = stop_daemon(daemon.process)
    finally:
        for scanner in scanners:
            scanner.close()


def write_seven_component_catalog(directory: Path) -> Catalog:
    """A shipped product whose BOM explodes 3 levels deep to 7 stock components.

    FG-BENCH -> PH-FRAME -> PH-MOTOR -> RM-STATOR, RM-ROTOR; PH-FRAME -> RM-HOUSING;
    FG-BENCH -> PH-WIRING -> PH-LOOM -> RM-CABLE x2, RM-PLUG x2; PH-WIRING -> RM-GLAND x4;
    FG-BENCH -> RM-LABEL. The four assemblies are phantoms; every stock part has a
    reorder policy far below its opening stock, so no low-stock or reorder fires.
    """
    structure = [("FG-BENCH", "PH-FRAME", 1), ("PH-FRAME", "PH-MOTOR", 1),
                 ("PH-MOTOR", "RM-STATOR", 1), ("PH-MOTOR", "RM-ROTOR", 1),
                 ("PH-FRAME", "RM-HOUSING", 1), ("FG-BENCH", "PH-WIRING", 1),
                 ("PH-WIRING", "PH-LOOM", 1), ("PH-LOOM", "RM-CABLE", 2),
                 ("PH-LOOM", "RM-PLUG", 2), ("PH-WIRING", "RM-GLAND", 4),
                 ("FG-BENCH", "RM-LABEL", 1)]  # fmt: skip
    parents = {parent for parent, _, _ in structure}
    leaves = [child for _, child, _ in structure if child not in parents]
    items = ["part,description,uom,stocked,reorder_point,reorder_qty,aliases",
             f"{FG},Benchmark pump,EA,false,,,{GTIN}"]  # fmt: skip
    items += [f"{part},Phantom {part},EA,false,,," for part in sorted(parents - {FG})]
    items += [f"{leaf},Component {leaf},EA,false,10,100," for leaf in leaves]
    bom = ["parent,component,qty_per,scrap_pct"]
    bom += [f"{parent},{child},{qty},0" for parent, child, qty in structure]
    return _write_catalog(directory, items, bom, leaves)


@dataclass(frozen=True)
class JournalCheck:
    """Each typed code against the scan journal."""

    typed: int
    once: int
    missing: int
    twice: int
    not_accepted: int

    @property
    def lossless(self) -> bool:
        return self.once == self.typed and not (self.missing or self.twice or self.not_accepted)

    def line(self) -> str:
        return (f"{self.typed} typed, {self.once} journaled exactly once, {self.missing} "
                f"missing, {self.twice} more than once, {self.not_accepted} not accepted: "
                + ("pass" if self.lossless else "FAIL"))  # fmt: skip


def journal_check(database: Path, typed: Sequence[bytes]) -> JournalCheck:
    journal: dict[bytes, list[str]] = {}
    with sqlite3.connect(database) as db:
        for data, status in db.execute("SELECT data, status FROM scans"):
            journal.setdefault(bytes(data), []).append(status)
    seen = [journal.get(code, []) for code in typed]
    return JournalCheck(
        typed=len(typed),
        once=sum(1 for statuses in seen if len(statuses) == 1),
        missing=sum(1 for statuses in seen if not statuses),
        twice=sum(1 for statuses in seen if len(statuses) > 1),
        not_accepted=sum(1 for statuses in seen if any(s != "accepted" for s in statuses)),
    )
