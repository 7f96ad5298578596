"""Shared parts of the benchmarks: the machine, the scratch directory, catalogs, tables.

Every benchmark measures the product and its physical limit in the same run,
in one scratch directory, so both see the same disk and the same noise.
Beside this module: the raw ``sqlite3`` limits (:mod:`baselines`) and
``edge run`` on pty scanners with our own mosquitto (:mod:`rig`). Repeated
runs are reduced here to a median and a spread with a table of bars.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(REPO))

from edge.domain.inventory import Identity  # noqa: E402
from edge.domain.model import Station, StationMode  # noqa: E402
from edge.domain.ports import Moment  # noqa: E402
from edge.domain.usage import format_daily, parse_daily  # noqa: E402
from edge.masterdata.bom import import_bom  # noqa: E402
from edge.masterdata.items import import_items  # noqa: E402
from edge.masterdata.stock import import_stock  # noqa: E402
from edge.service import InventoryService  # noqa: E402
from edge.store.counters import WRITES  # noqa: E402
from edge.store.database import open_database  # noqa: E402

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


def wait_for(
    check: Callable[[], bool], what: str, ceiling: float, *, interval: float = 0.05
) -> None:
    """Poll ``check`` every ``interval`` s; give up (exit) after ``ceiling`` s."""
    deadline = time.monotonic() + ceiling
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {ceiling:g} s waiting for {what}")
        time.sleep(interval)


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


def import_catalog(service: InventoryService, catalog: Catalog, *, stock: bool = True) -> None:
    """Through the product's own importer, as `edge import` does."""
    import_items(service, catalog.items)
    import_bom(service, catalog.bom)
    if stock:
        import_stock(service, catalog.stock, now_moment())


def seed_daily_use(database: Path, days: int) -> None:
    """Give every balance ``days`` earlier days of use (at most 13), as a line running that
    long leaves it: a balance keeps its use per day over a 14-day window and every commit
    writes each touched part's, while a fresh database holds today's only. Written beside
    the product, so the writes counter is raised as a unit of work would."""
    if not days:
        return
    today = datetime.now(UTC).date()
    text = format_daily(tuple((str(today - timedelta(days=back)), Decimal(7))
                              for back in range(days, 0, -1)))  # fmt: skip
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE balances SET daily_use = ?", (text,))
        connection.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (WRITES,))


def daily_use_days(database: Path) -> int:
    """How many days of use the balances hold (the most any part holds)."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        texts = [text for (text,) in connection.execute("SELECT daily_use FROM balances")]
    return max((len(parse_daily(text)) for text in texts), default=0)


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
