"""Commit path: backflush scans through the real core and SQLite vs raw sqlite3.

A ship station scans serialized labels of a product whose 3-level BOM
explodes (through phantoms) to 50 stock components. Every scan goes through
the product's decoder, scan rules, inventory core and unit of work into a
durable database (WAL, synchronous=FULL), measured three ways:

* one commit per scan: ``InventoryService.process_scans`` with one scan;
* grouped, 20 operators: 20 scanner threads each enqueue a read and wait for
  its good-read feedback before the next, the product's ``ScanWriter``
  groups whatever is queued (the daemon's path minus the serial ports);
* grouped, flood: producer threads fill the queue as fast as they can.

The headline limit is raw ``sqlite3`` with the same pragmas committing one
durable transaction per scan into bare tables (a primary key, no other index,
no trigger) with as many rows of roughly the same size as the product wrote
per scan -- counted from the product's database after the run, not assumed;
the grouped writer's goal is >= 1.0x of it. A replay of one scan's rows into a
copy of the product's own schema is shown as a secondary line. Product and
raw runs alternate in rounds, on one disk.

    .venv/bin/python bench/commit_path.py [--scans 1000] [--dir DIR]
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from baselines import (
    APPEND_TABLES,
    KEYED_TABLES,
    RawBaseline,
    RawPlan,
    ReplayBaseline,
    plan_from,
    snapshot,
)
from common import (
    Labels,
    Run,
    arguments,
    import_catalog,
    load,
    ms,
    percentile,
    print_machine,
    scratch,
    service_for,
    table,
    write_three_level_catalog,
)
from sqlalchemy import event

from edge.domain.scanning import ScanInput
from edge.runtime.clock import SystemClock
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from edge.service import InventoryService, PendingScan
from hardware.barcode import decode
from hardware.reads import RawRead

ROUNDS = 4
OPERATORS = 20
FLOOD_PRODUCERS = 4
GOAL_RATIO = 1.0  # SPEC 9: grouped commits beat the per-commit fsync wall
GOAL_P99_S = 0.020


def total_changes(service: InventoryService) -> int:
    """sqlite3's count of rows inserted, updated or deleted on the product's connection."""
    raw = service.engine.raw_connection()
    try:
        return int(raw.driver_connection.total_changes)
    finally:
        raw.close()


# --- the product ---------------------------------------------------------------------------
def one_per_scan(service: InventoryService, codes: list[bytes]) -> Run:
    clock = SystemClock()
    run = Run("product, 1 commit/scan", batches=[1] * len(codes))

    start = time.perf_counter()
    for data in codes:
        began = time.perf_counter()
        scan = ScanInput(scanner="bench", station="PACK-1", data=data, at=clock.moment())
        [outcome] = service.process_scans([PendingScan(scan, decode(data))])
        run.latencies.append(time.perf_counter() - began)
        if not outcome.good:
            raise SystemExit(f"scan {data!r} was not accepted: {outcome}")
    run.seconds = time.perf_counter() - start
    run.scans = len(codes)
    return run


def grouped(service: InventoryService, path: Path, codes: list[bytes], *, flood: bool) -> Run:
    """The product's writer thread, fed by scanner threads through the daemon's queue."""
    reads: ReadQueue[QueuedRead] = ReadQueue(20_000)
    scanners = FLOOD_PRODUCERS if flood else OPERATORS
    enqueued = [deque[float]() for _ in range(scanners)]
    answered = [threading.Event() for _ in range(scanners)]
    latencies: list[float] = []
    batches: list[int] = []
    bad: list[int] = []
    answered_since = [0]  # answers since the last commit's wake-up of the relay
    done = threading.Event()

    # The writer answers a batch's scanners first, then wakes the relay.
    def on_committed() -> None:
        batches.append(answered_since[0])
        answered_since[0] = 0

    def feedback_for(index: int):
        def feedback(good: bool) -> None:
            latencies.append(time.perf_counter() - enqueued[index].popleft())
            answered_since[0] += 1
            if not good:
                bad.append(index)
            answered[index].set()
            if len(latencies) == len(codes):
                done.set()

        return feedback

    routes = {
        f"s{i}": ScannerRoute("PACK-1", b"", b"", 1.0, feedback_for(i)) for i in range(scanners)
    }
    writer = ScanWriter(
        service, reads, routes, database_path=path, min_free_mb=0, on_committed=on_committed
    )
    stop = threading.Event()
    writer_thread = threading.Thread(target=writer.run, args=(stop,), name="writer")
    share = [codes[i::scanners] for i in range(scanners)]

    def scanner(index: int) -> None:
        for data in share[index]:
            answered[index].clear()
            enqueued[index].append(time.perf_counter())
            reads.put(QueuedRead(f"s{index}", RawRead(data, time.monotonic())))
            if not flood:
                answered[index].wait()

    threads = [threading.Thread(target=scanner, args=(i,)) for i in range(scanners)]
    writer_thread.start()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.wait()
    seconds = time.perf_counter() - start
    stop.set()
    writer_thread.join()
    if bad:
        raise SystemExit(f"{len(bad)} grouped scans were not accepted")
    name = (f"product, grouped ({FLOOD_PRODUCERS} producers flood)" if flood
            else f"product, grouped ({OPERATORS} operators)")  # fmt: skip
    return Run(name, len(codes), seconds, latencies, [b for b in batches if b])


# --- statements per scan ----------------------------------------------------------------------
def statements_per_scan(service: InventoryService, codes: list[bytes]) -> dict[str, float]:
    """Statements SQLite ran per scan (each row of an executemany counts), traced by sqlite3."""
    counts = {"SELECT": 0, "INSERT": 0, "UPDATE": 0, "other": 0}

    def count(statement: str) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        counts[verb if verb in counts else "other"] += 1

    def trace(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.set_trace_callback(count)

    def untrace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(None)

    event.listen(service.engine, "checkout", trace)
    event.listen(service.engine, "checkin", untrace)
    try:
        one_per_scan(service, codes)
    finally:
        event.remove(service.engine, "checkout", trace)
        event.remove(service.engine, "checkin", untrace)
    return {verb: number / len(codes) for verb, number in counts.items()}


# --- report --------------------------------------------------------------------------------------
def summary(run: Run) -> list[object]:
    mean_batch = sum(run.batches) / len(run.batches) if run.batches else 1
    return [
        run.name,
        run.scans,
        f"{run.rate:.1f}",
        f"{mean_batch:.1f}",
        ms(percentile(run.latencies, 0.50)),
        ms(percentile(run.latencies, 0.99)),
        ms(max(run.latencies)),
    ]


@dataclass
class Results:
    plan: RawPlan
    changes: float
    statements: dict[str, float]
    raw: Run
    replay: Run
    replay_rows: int
    single: Run
    operators: Run
    flood: Run
    raw_grouped: Run


def measure(directory: Path, scans: int) -> Results:
    per_round = max(1, scans // ROUNDS)
    catalog = write_three_level_catalog(directory)
    path = directory / "product.db"
    service = service_for(path)
    import_catalog(service, catalog)
    labels = Labels()
    one_per_scan(service, labels.take(50))  # warm-up: catalog cache, statement cache

    single = Run("product, 1 commit/scan")
    before, changes_before = snapshot(path), total_changes(service)
    single.add(one_per_scan(service, labels.take(per_round)))
    after, changes_after = snapshot(path), total_changes(service)
    plan = plan_from(path, before, after, single.scans)
    changes = (changes_after - changes_before) / single.scans
    statements = statements_per_scan(service, labels.take(50))

    raw = RawBaseline(directory / "raw.db", plan)
    raw.run(50)  # warm-up
    raw_single = Run("raw sqlite3, 1 txn/scan")
    replay = ReplayBaseline(path, directory / "replay.db")
    replay.run(50)  # warm-up
    replay_single = Run("replay in product schema, 1 txn/scan")
    flood = Run(f"product, grouped ({FLOOD_PRODUCERS} producers flood)")
    operators = Run(f"product, grouped ({OPERATORS} operators)")
    for index in range(ROUNDS):
        raw_single.add(raw.run(per_round))
        replay_single.add(replay.run(per_round))
        if index:
            single.add(one_per_scan(service, labels.take(per_round)))
        operators.add(grouped(service, path, labels.take(per_round), flood=False))
        flood.add(grouped(service, path, labels.take(per_round), flood=True))
    mean_batch = max(1, round(sum(operators.batches) / len(operators.batches)))
    raw_grouped = raw.run(scans, per_transaction=mean_batch)
    raw_grouped.name = f"raw sqlite3, {mean_batch} scans/txn (info)"
    service.engine.dispose()
    raw.db.close()
    replay.db.close()
    return Results(
        plan, changes, statements, raw_single, replay_single, replay.rows_per_scan(),
        single, operators, flood, raw_grouped,
    )  # fmt: skip


def report(results: Results, scans: int) -> None:
    plan = results.plan
    print("Rows the product wrote per scan (read from its database after the run):")
    rows: list[list[object]] = [
        [name, plan.inserts[name], plan.updates.get(name, 0), plan.sizes[name]]
        for name in APPEND_TABLES
        if plan.inserts[name] or plan.updates.get(name, 0)
    ]
    rows += [[name, 0, plan.updates[name], plan.sizes[name]] for name in KEYED_TABLES]
    rows.append(["total", sum(plan.inserts.values()), sum(plan.updates.values()), ""])
    table(["table", "inserted", "updated", "bytes/row"], rows)
    print(f"sqlite3 total_changes per scan on the product's connection: {results.changes:.1f} "
          f"(counted from the tables: {plan.rows})")  # fmt: skip
    print(
        "statements per scan, reads included: "
        + ", ".join(f"{verb} {number:.1f}" for verb, number in results.statements.items())
    )
    print(f"raw sqlite3 writes {plan.rows} rows per transaction per scan into bare tables "
          "(id, payload) of the same row sizes: no other index, no foreign key")  # fmt: skip
    print(f"replay writes the {results.replay_rows} rows of one product scan again per "
          "transaction, into a copy of the product's database: same schema, indexes, "
          "foreign keys and triggers")  # fmt: skip
    print()
    print(f"{scans} scans per line, in {ROUNDS} alternating rounds; latency is scan to "
          "commit return (grouped: enqueue to commit return)")  # fmt: skip
    runs = (results.raw, results.replay, results.single, results.operators, results.flood,
            results.raw_grouped)  # fmt: skip
    table(
        ["run", "scans", "scans/s", "scans/commit", "p50 ms", "p99 ms", "max ms"],
        [summary(run) for run in runs],
    )
    print(f"load        {load()} at end")
    print()
    # The headline is SPEC 9's bar: raw sqlite3, one durable transaction per scan, into bare
    # tables with the same rows. The replay into the product's own schema pays the product's
    # indexes and triggers too, so a ratio against it flatters the product; it is secondary.
    raw = results.raw
    print(f"Headline: against {raw.name} into bare tables ({raw.rate:.1f} tx/s; "
          f"goal >= {GOAL_RATIO:.1f}x for the grouped writer):")  # fmt: skip
    for run in (results.operators, results.flood):
        ratio = run.rate / raw.rate
        print(f"  {run.name:<42} {ratio:6.2f}x  {'pass' if ratio >= GOAL_RATIO else 'MISS'}")
    print(f"  {results.single.name:<42} {results.single.rate / raw.rate:6.2f}x  "
          "(info: no grouping, the same fsync wall per scan)")  # fmt: skip
    replay = results.replay
    print(f"Secondary (info): against {replay.name} ({replay.rate:.1f} tx/s; the product's "
          "indexes, foreign keys and triggers included):")  # fmt: skip
    for run in (results.single, results.operators, results.flood):
        print(f"  {run.name:<42} {run.rate / replay.rate:6.2f}x")
    print(f"Latency p99, scan to committed transaction (goal < {GOAL_P99_S * 1000:.0f} ms):")
    p99 = percentile(results.single.latencies, 0.99)
    verdict = "pass" if p99 < GOAL_P99_S else "MISS"
    print(f"  {results.single.name:<42} {ms(p99):>6} ms  {verdict}")
    # 20 operators scanning back to back is a burst, not a latency case: each
    # scan waits for the group ahead of it. Shown for what it is.
    p99 = percentile(results.operators.latencies, 0.99)
    print(f"  {results.operators.name:<42} {ms(p99):>6} ms  (info: queued behind a group)")


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        [("--scans", {"type": int, "default": 1000, "help": "scans per measurement"})],
    )
    with scratch(args) as directory:
        print_machine("commit path: product vs raw sqlite3 (WAL, synchronous=FULL)", directory)
        report(measure(directory, args.scans), args.scans)


if __name__ == "__main__":
    main()
