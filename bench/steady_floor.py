"""Steady floor: where the steady bar's gap goes, the product's SQL and its Python apart.

`bench/steady.py` times `edge run` from bytes in to the good-read byte out
next to a raw single-row durable commit. This bench takes the same scan path
apart, in one process, every step of it cold (one scan every 30 ms, as there):

* product: the real ``ScanWriter`` takes one read of a serialized label of the
  7-component, 3-level BOM and commits it; timed from ``process`` to its
  good-read answer (no serial port, no reader thread);
* replay: the very statements the product ran for that scan (captured on its
  driver connection, parameters and all), replayed in the same order into a
  copy of the database as it was before the run -- the product's SQL with no
  Python of ours around it: the floor of this schema and these rows;
* raw: one row into a bare table in its own durable transaction (the bar's
  reference), half a period after each.

So ``replay - raw`` is what the schema's statements and pages cost over the
bar's reference, and the product's gap less that is the Python of the scan
path. Each pass is timed against raw commits taken beside it, as the
machine's pace drifts between passes.
The daemon adds its read, framing and hand-over to the writer on top (see the
README). Nothing here is a goal of its own; it says how far each part is.

    .venv/bin/python bench/steady_floor.py [--runs 3] [--scans 400] [--quick] [--dir DIR]
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines import raw_connection
from common import (
    Bar,
    Spread,
    import_catalog,
    load,
    percentile,
    print_bars,
    scratch,
    seed_daily_use,
    serial_code,
    service_for,
    table,
    write_seven_component_catalog,
)
from steady import PERIOD_S, DurableCommit, ms, paced_options, print_header, until

from edge.scanpath.inbox import ReadQueue
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from edge.service import InventoryService
from hardware.reads import RawRead

WARM_UP = 20  # scans left out of each run's percentiles: the files' first pages

Statement = tuple[str, Any]


class RecordingDriver:
    """The held driver connection, keeping every statement the unit of work sends.

    A wrapper, not a subclass: the connection already exists (SQLAlchemy's
    pool opened it with the product's pragmas), and the unit of work uses
    only ``execute`` and ``in_transaction`` of it, which this passes through.
    """

    def __init__(self, driver: sqlite3.Connection) -> None:
        self.driver = driver
        self.scans: list[list[Statement]] = []

    @property
    def in_transaction(self) -> bool:
        return self.driver.in_transaction

    def execute(self, statement: str, parameters: Any = ()) -> sqlite3.Cursor:
        if self.scans:
            self.scans[-1].append((statement, parameters))
        return self.driver.execute(statement, parameters)


@dataclass
class FloorRun:
    product: list[float] = field(default_factory=list)  # process() -> good-read answer, s
    replay: list[float] = field(default_factory=list)  # the same statements, BEGIN..COMMIT
    replay_before_commit: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)  # beside the product's scans
    raw_beside_replay: list[float] = field(default_factory=list)
    statements: int = 0
    faithful: bool = False  # the replayed copy holds as many rows per table as the product's

    @property
    def sql(self) -> float:
        """What the schema's statements cost over the raw commit taken beside them."""
        return self.p50("replay") - self.p50("raw_beside_replay")

    @property
    def gap(self) -> float:
        return self.p50("product") - self.p50("raw")

    def p50(self, which: str) -> float:
        return percentile(getattr(self, which)[WARM_UP:], 0.5)


def _writer(service: InventoryService, database: Path, answered: list[float]) -> ScanWriter:
    route = ScannerRoute(
        "PACK-1", b"", b"", 1.0, lambda _good: answered.append(time.perf_counter())
    )
    return ScanWriter(service, ReadQueue(1000), {"s1": route}, database_path=database,
                      min_free_mb=0)  # fmt: skip


def _checkpointed_copy(database: Path, copy: Path) -> None:
    """A copy of the database file as it is, with nothing left in its WAL."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    shutil.copy(database, copy)


def one_run(folder: Path, index: int, scans: int, days: int = 0) -> FloorRun:
    folder.mkdir(parents=True)
    database = folder / "edge.db"
    service = service_for(database)
    import_catalog(service, write_seven_component_catalog(folder))
    service.engine.dispose()
    seed_daily_use(database, days)
    _checkpointed_copy(database, folder / "replay.db")
    service = service_for(database)
    answered: list[float] = []
    writer = _writer(service, database, answered)
    raw = DurableCommit(folder / "raw.db")
    run = FloorRun()
    with service.holding_a_connection():
        recording = RecordingDriver(service.kept.driver)  # type: ignore[arg-type]
        service.kept.driver = recording  # type: ignore[assignment]
        slot = time.perf_counter()
        for number in range(scans):
            until(slot)
            recording.scans.append([])
            read = RawRead(serial_code(number, f"F{index}").encode(), time.monotonic())
            began = time.perf_counter()
            writer.process([QueuedRead("s1", read)])
            run.product.append(answered[-1] - began)
            until(slot + PERIOD_S / 2)
            run.raw.append(raw.commit())
            slot += PERIOD_S
    service.engine.dispose()
    run.statements = round(percentile([len(s) for s in recording.scans], 0.5))
    _replay(folder / "replay.db", recording.scans, raw, run)
    raw.close()
    run.faithful = _row_counts(database) == _row_counts(folder / "replay.db")
    return run


def _row_counts(database: Path) -> dict[str, int]:
    """Rows per table: the replay wrote what the product wrote, or it measured something else."""
    connection = sqlite3.connect(database)
    names = [
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    counts = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
              for name in names}  # fmt: skip
    connection.close()
    return counts


def _replay(copy: Path, scans: list[list[Statement]], raw: DurableCommit, run: FloorRun) -> None:
    """The captured statements again, paced as the product was, each scan cold, a raw
    commit half a period after each (the machine's pace drifts between the passes)."""
    connection = raw_connection(copy)
    slot = time.perf_counter()
    for statements in scans:
        until(slot)
        began = time.perf_counter()
        before_commit = began
        for statement, parameters in statements:
            if statement == "COMMIT":
                before_commit = time.perf_counter()
            connection.execute(statement, parameters).fetchall()
        run.replay.append(time.perf_counter() - began)
        run.replay_before_commit.append(before_commit - began)
        until(slot + PERIOD_S / 2)
        run.raw_beside_replay.append(raw.commit())
        slot += PERIOD_S
    connection.close()


def report(results: list[FloorRun]) -> None:
    rows = [[number, r.statements, ms(r.p50("product")), ms(r.p50("raw")),
             ms(r.p50("replay")), ms(r.p50("replay_before_commit")),
             ms(r.p50("raw_beside_replay")), ms(r.gap), ms(r.sql), ms(r.gap - r.sql),
             "yes" if r.faithful else "NO"]
            for number, r in enumerate(results, 1)]  # fmt: skip
    table(["run", "statements", "product p50", "raw p50", "replay p50", "before COMMIT",
           "raw beside", "gap", "SQL", "Python", "replay faithful"], rows)  # fmt: skip
    print()


def bars(results: list[FloorRun]) -> list[Bar]:
    def spread(values: list[float]) -> Spread:
        return Spread(tuple(values))

    return [
        Bar("in-process gap: product - raw", "", spread([r.gap for r in results]), ms),
        Bar("  the schema's SQL: replay - raw", "", spread([r.sql for r in results]), ms),
        Bar("  the scan path's Python: gap - SQL", "", spread(
            [r.gap - r.sql for r in results]), ms),
        Bar("  raw single-row durable commit p50", "", spread(
            [r.p50("raw") for r in results]), ms),
    ]  # fmt: skip


def main() -> None:
    args, runs, scans = paced_options(__doc__.splitlines()[0], 400)
    with scratch(args) as directory:
        print_header("steady floor: the steady gap taken apart, in one process", directory)
        results = [one_run(directory / f"run-{n}", n, scans, args.days)
                   for n in range(1, runs + 1)]  # fmt: skip
        print(f"{scans} scans per run, one every {PERIOD_S * 1000:.0f} ms, p50 of each after "
              f"the first {WARM_UP}")  # fmt: skip
        report(results)
        print(f"load        {load()} at end")
        print()
        print_bars("Steady floor (no goals: the parts of the steady p50 gap)", bars(results), runs)
        if not all(r.faithful for r in results):
            raise SystemExit("the replay did not write the rows the product wrote")


if __name__ == "__main__":
    main()
