"""The scan log line's share of the writer's CPU per scan.

The product's ``ScanWriter.process`` commits batches of serialized labels of
the 3-level benchmark product (50 stock components, as in commit_path.py)
into a durable database, and the writer thread's CPU time (``thread_time``)
is measured per scan in three settings, alternating in rounds:

* logging at WARNING: the scan lines are not written (one level check per batch);
* INFO to a file with the daemon's format (time, level, logger);
* INFO to a file announced as the journal stream (``<6>`` prefix, no time);

logging set up by ``edge.runtime.logs`` as ``edge run`` sets it up.

Also measured alone: the CPU of one scan line (``ScanWriter._log_outcomes``
on journaled outcomes), the difference the other rows show inside a commit
(on a loaded machine the whole-scan rows vary by more than a line costs).
The 50-component BOM costs several times §9's 200 µs budget, which is set for
a 7-component BOM; the line's cost is what this bench is for.

    .venv/bin/python bench/scan_log.py [--scans 2000] [--batch 16] [--dir DIR]
"""

from __future__ import annotations

import logging
import os
import time
from typing import TextIO

from common import (
    Labels,
    arguments,
    import_catalog,
    print_machine,
    scratch,
    service_for,
    table,
    write_three_level_catalog,
)

from edge.runtime.logs import configure, set_levels
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from edge.service import PendingScan
from hardware.reads import RawRead

ROUNDS = 4


def set_logging(mode: str, sink: TextIO) -> None:
    """The daemon's logging (``edge.runtime.logs``) writing to ``sink``."""
    os.environ.pop("JOURNAL_STREAM", None)
    if mode == "journal":  # as systemd announces the stream it connected
        stat = os.fstat(sink.fileno())
        os.environ["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
    configure(verbose=False, timestamps=True, stream=sink)
    set_levels(logging.WARNING if mode == "off" else logging.INFO, log_mqtt=False)


def writer_cpu(writer: ScanWriter, labels: Labels, scans: int, batch: int) -> float:
    """Writer-thread CPU seconds per scan for ``scans`` scans in batches of ``batch``."""
    cpu = 0.0
    for _ in range(scans // batch):
        reads = [QueuedRead("s0", RawRead(code, time.monotonic())) for code in labels.take(batch)]
        began = time.thread_time()
        outcomes = writer.process(reads)
        cpu += time.thread_time() - began
        if not all(outcome.good for outcome in outcomes):
            raise SystemExit("a benchmark scan was not accepted")
    return cpu / (scans // batch * batch)


def line_cpu(writer: ScanWriter, pending: list[PendingScan], outcomes: list) -> float:
    began = time.thread_time()
    writer._log_outcomes(pending, outcomes)
    return (time.thread_time() - began) / len(pending)


def main() -> None:
    args = arguments(
        "The scan log line's share of the writer's CPU per scan.",
        [
            ("--scans", {"type": int, "default": 2000, "help": "scans per setting and round"}),
            ("--batch", {"type": int, "default": 16, "help": "scans per commit"}),
        ],
    )
    with scratch(args) as directory:
        print_machine("scan log line: writer CPU per scan", directory)
        database = directory / "edge.db"
        service = service_for(database)
        import_catalog(service, write_three_level_catalog(directory))
        writer = ScanWriter(
            service,
            ReadQueue(100),
            {"s0": ScannerRoute("PACK-1", b"", b"", 0.0, feedback=lambda _good: None)},
            database_path=database,
            min_free_mb=0,
        )
        labels = Labels()
        modes = ("off", "plain", "journal")
        per_scan: dict[str, list[float]] = {mode: [] for mode in modes}
        per_line: dict[str, list[float]] = {mode: [] for mode in modes}
        sinks: list[TextIO] = []
        writer_cpu(writer, labels, args.batch * 4, args.batch)  # warm the caches
        for _ in range(ROUNDS):
            for mode in modes:
                sinks.append(sink := (directory / f"{mode}.log").open("a"))
                set_logging(mode, sink)
                per_scan[mode].append(writer_cpu(writer, labels, args.scans, args.batch))
                reads = [QueuedRead("s0", RawRead(code, time.monotonic()))
                         for code in labels.take(args.batch)]  # fmt: skip
                pending = [writer._pending(r, writer.routes["s0"]) for r in reads]
                outcomes = service.process_scans(pending)
                per_line[mode].append(line_cpu(writer, pending, outcomes))
        set_logging("off", sinks[0])
        service.engine.dispose()
        for sink in sinks:
            sink.close()
        print(f"\n{args.scans} scans per setting and round, {ROUNDS} rounds, "
              f"{args.batch} scans per commit; median of the rounds")  # fmt: skip
        rows = []
        off = sorted(per_scan["off"])[ROUNDS // 2]
        for mode in modes:
            scan_us = sorted(per_scan[mode])[ROUNDS // 2] * 1e6
            line_us = sorted(per_line[mode])[ROUNDS // 2] * 1e6
            ratio = scan_us / (off * 1e6)
            rows.append([mode, f"{scan_us:.1f}", f"{ratio:.3f}", f"{line_us:.2f}"])
        table(["logging", "writer CPU us/scan", "ratio to off", "line alone us"], rows)


if __name__ == "__main__":
    main()
