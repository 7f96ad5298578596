"""Cold model: what a scan costs on cold caches, counted instead of timed.

The steady bar is paid on a writer woken from idle, whose caches the machine
has taken back meanwhile; on a shared VM that cost drifts by ±100 µs from
one run to the next, more than most changes to the scan path are worth. This
bench counts it instead: the real ``ScanWriter`` commits scans of the
7-component, 3-level BOM inside callgrind's cache simulation (32 KiB L1s, an
8 MiB last level), each scan after a write of 16 MiB that empties the
simulated caches, and callgrind counts only inside the measured stage
(toggled by client requests from a small library built here). Counts are the
same from run to run on the same code, so a change is measured on one run.

Stages, each one run of the child under valgrind:

* scan: ``ScanWriter.process`` from a read to its good-read answer (what the
  writer does after the answer is not counted: no operator waits for it);
* domain: ``ScanProcessor.process``, the inventory rules (their rows wait);
* sql: every statement on the driver connection, ``BEGIN`` to ``COMMIT``;
* raw: the steady bar's reference, a raw single-row durable commit, cold.

Each prints instructions, L1 and last-level misses a scan, and an estimate
of cycles: instructions + 10 per L1 miss + 100 per last-level miss (the
weights KCachegrind's estimate uses). The scan's Python is ``scan - sql``.
Needs valgrind (with its headers) and a C compiler; ``--child STAGE`` runs
one stage natively, where the toggles do nothing (the smoke test uses it).

    .venv/bin/python bench/cold_model.py [--stages scan,domain,sql,raw] [--warm 30] [--cold 10]
                                         [--days 13] [--dir DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import functools
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    daily_use_days,
    import_catalog,
    print_machine,
    scratch,
    seed_daily_use,
    serial_code,
    service_for,
    table,
    write_seven_component_catalog,
)
from steady import DurableCommit

from edge.domain.scanning import ScanProcessor
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from hardware.reads import RawRead

STAGES = ("scan", "domain", "sql", "raw")
WARM = 30  # scans first (--warm): the kept state, the statement cache and the files' pages
FLUSH_BYTES = 16 << 20  # twice the simulated last level
CACHES = ("--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64")
TOGGLE_C = "#include <valgrind/callgrind.h>\nvoid toggle(void) { CALLGRIND_TOGGLE_COLLECT; }\n"
MISSES_L1 = ("I1mr", "D1mr", "D1mw")
MISSES_LL = ("ILmr", "DLmr", "DLmw")


class Toggle:
    """Callgrind's collection switched on and off around a stage (no-ops natively)."""

    def __init__(self, library: Path | None) -> None:
        self._toggle: Callable[[], None] = (
            ctypes.CDLL(str(library)).toggle if library is not None else lambda: None
        )
        self.armed = False  # counting only the cold scans
        self.counting = False

    def start(self) -> None:
        if self.armed and not self.counting:
            self.counting = True
            self._toggle()

    def stop(self) -> None:
        if self.counting:
            self.counting = False
            self._toggle()

    def around(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.start()
            try:
                return function(*args, **kwargs)
            finally:
                self.stop()

        return counted


class CountedDriver:
    """The held driver connection with each statement counted (the sql stage)."""

    def __init__(self, driver: Any, toggle: Toggle) -> None:
        self.driver = driver
        self.execute = toggle.around(driver.execute)

    @property
    def in_transaction(self) -> bool:
        return bool(self.driver.in_transaction)


def child(stage: str, folder: Path, warm: int, cold: int, library: Path | None, *,
          days: int = 0) -> None:  # fmt: skip
    """One stage's scans, the cold ones counted: what runs under valgrind."""
    toggle = Toggle(library)
    flush, zeros = bytearray(FLUSH_BYTES), bytes(FLUSH_BYTES)
    folder.mkdir(parents=True, exist_ok=True)
    if stage == "raw":
        raw = DurableCommit(folder / "raw.db")
        commit = toggle.around(raw.commit)
        for number in range(warm + cold):
            toggle.armed = number >= warm
            flush[:] = zeros
            commit()
        raw.close()
        return
    database = folder / "edge.db"
    service = service_for(database)
    import_catalog(service, write_seven_component_catalog(folder))
    seed_daily_use(database, days)
    answered: list[bool] = []

    def answer(good: bool) -> None:
        if stage == "scan":
            toggle.stop()  # what the writer does after the answer, the operator does not wait
        answered.append(good)

    route = ScannerRoute("PACK-1", b"", b"", 1.0, answer)
    writer = ScanWriter(service, ReadQueue(10), {"s1": route}, database_path=database,
                        min_free_mb=0)  # fmt: skip
    process = writer.process
    if stage == "scan":
        process = toggle.around(writer.process)
    elif stage == "domain":
        ScanProcessor.process = toggle.around(ScanProcessor.process)  # type: ignore[method-assign]
    with service.holding_a_connection():
        if stage == "sql":
            service.kept.driver = CountedDriver(service.kept.driver, toggle)  # type: ignore[assignment]
        for number in range(warm + cold):
            toggle.armed = number >= warm
            flush[:] = zeros
            process(
                [QueuedRead("s1", RawRead(serial_code(number, "C").encode(), time.monotonic()))]
            )
    if answered.count(True) != warm + cold:
        raise SystemExit(f"{stage}: {answered.count(True)} of {warm + cold} scans answered good")
    print(f"{stage}: {warm + cold} scans, all answered good")
    print(f"daily use: {daily_use_days(database)} days a part")


def toggle_library(directory: Path) -> Path:
    source, library = directory / "toggle.c", directory / "libtoggle.so"
    source.write_text(TOGGLE_C)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def counted(stage: str, directory: Path, warm: int, cold: int, library: Path, *,
            days: int) -> dict[str, int]:  # fmt: skip
    """Run one stage under callgrind; its events summed over the cold scans."""
    out = directory / f"callgrind-{stage}.out"
    command = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--cache-sim=yes",
               *CACHES, f"--callgrind-out-file={out}", sys.executable, __file__,
               "--child", stage, "--warm", str(warm), "--cold", str(cold),
               "--dir", str(directory / stage), "--library", str(library),
               "--days", str(days)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{stage} under valgrind failed:\n{done.stderr[-2000:]}")
    events: list[str] = []
    totals: list[int] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            totals = [int(value) for value in line.split()[1:]]
    return dict(zip(events, totals, strict=False))


def per_scan(events: dict[str, int], cold: int) -> list[float]:
    l1 = sum(events.get(name, 0) for name in MISSES_L1)
    ll = sum(events.get(name, 0) for name in MISSES_LL)
    ir = events.get("Ir", 0)
    return [ir / cold, l1 / cold, ll / cold, (ir + 10 * l1 + 100 * ll) / cold]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--cold", type=int, default=10, help="counted scans per stage")
    parser.add_argument("--warm", type=int, default=WARM, help="uncounted scans before them")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--days",
        type=int,
        default=0,
        choices=range(14),
        metavar="0-13",
        help="earlier days of use each balance holds (up to 13)",
    )
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--library", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir, args.warm, args.cold, args.library, days=args.days)
        return
    missing = [tool for tool in ("valgrind", "cc") if shutil.which(tool) is None]
    if missing or not Path("/usr/include/valgrind/callgrind.h").exists():
        raise SystemExit(f"the cold model needs valgrind, its headers and cc ({missing})")
    stages = [stage for stage in args.stages.split(",") if stage]
    with scratch(args) as directory:
        print_machine("cold model: a scan on emptied caches, counted by callgrind", directory)
        library = toggle_library(directory)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            runs = {stage: pool.submit(counted, stage, directory, args.warm, args.cold, library,
                                       days=args.days)
                    for stage in stages}  # fmt: skip
            results = {stage: per_scan(run.result(), args.cold) for stage, run in runs.items()}
        if "scan" in results and "sql" in results:
            results["scan - sql (Python)"] = [
                a - b for a, b in zip(results["scan"], results["sql"], strict=True)
            ]
        history = f", {args.days} earlier days of use a part" if args.days else ""
        print(f"{args.cold} cold scans per stage (after {args.warm} warm{history}); per scan:")
        table(["stage", "instructions", "L1 misses", "LL misses", "est. cycles", "vs raw"],
              [[stage, f"{ir:,.0f}", f"{l1:,.0f}", f"{ll:,.0f}", f"{cycles:,.0f}",
                f"{cycles / results['raw'][3]:.2f}x" if "raw" in results else "-"]
               for stage, (ir, l1, ll, cycles) in results.items()])  # fmt: skip


if __name__ == "__main__":
    main()
