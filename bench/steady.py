"""Steady: one scanner, one scan every 30 ms through `edge run`, next to a raw durable commit.

One serial scanner on a pty (CRLF terminator, ACK/NAK feedback) feeds a ship
station of a real ``python -m edge run`` subprocess with our own mosquitto on a
free loopback port; the product's BOM explodes 3 levels deep to 7 stock
components. Every 30 ms the bench types one serialized label ``(01)<GTIN>(21)
<serial>`` + CRLF and times bytes in to the good-read byte out on the pty.

The physical limit, interleaved in the same run on the same disk: half a
period after each scan (while the daemon should be idle), raw Python
``sqlite3`` (WAL, synchronous=FULL) commits one row into a bare table in its
own durable transaction, in the same directory. Goals: the product's p50
within 1 ms of the raw commit's p50, its p99 within 5 ms of the raw p99.

Beside them, after the product's scans, the pty's own floor (``pty_echo.py``):
the same labels, paced the same, through a pty to a bare process that only
answers ACK. The raw commit crosses no terminal; that share of the product's
gap is the kernel's tty path and a second process waking, not the scan's work.

    .venv/bin/python bench/steady.py [--runs 3] [--scans 1000] [--quick] [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from baselines import raw_connection
from common import (
    Bar,
    Spread,
    arguments,
    daily_use_days,
    journal_bar,
    load,
    percentile,
    print_bars,
    print_machine,
    runs_arguments,
    scratch,
    serial_code,
    table,
)
from pty_echo import PtyRoundTrip
from rig import (
    JournalCheck,
    Scanner,
    daemon_on_ptys,
    journal_check,
    revision,
    scan_and_time,
)

PERIOD_S = 0.030
GOAL_P50_S = 0.001  # product p50 - raw p50
GOAL_P99_S = 0.005  # product p99 - raw p99
JOURNAL_ROW_BYTES = 120  # about a journal row of these labels


class DurableCommit:
    """Raw sqlite3: one row into a bare table, one durable transaction, the product's pragmas."""

    def __init__(self, path: Path) -> None:
        self.db = raw_connection(path)
        self.db.execute("CREATE TABLE bare (id INTEGER PRIMARY KEY, payload TEXT)")
        self.payload = "x" * JOURNAL_ROW_BYTES

    def commit(self) -> float:
        began = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO bare (payload) VALUES (?)", (self.payload,))
        self.db.execute("COMMIT")
        return time.perf_counter() - began

    def close(self) -> None:
        self.db.close()


@dataclass
class Paced:
    typed: list[bytes] = field(default_factory=list)
    product: list[float] = field(default_factory=list)  # bytes in -> ACK out, seconds
    raw: list[float] = field(default_factory=list)
    pty: list[float] = field(default_factory=list)  # the bare pty round trip, paced alike
    unanswered: int = 0
    not_ack: int = 0  # feedback bytes other than ACK
    late: int = 0  # scans answered after their slot ended (the next one started late)


def until(moment: float) -> None:
    """Pace the next action: sleep to a perf_counter moment (a benchmark's clock, not a test)."""
    delay = moment - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def paced(scanner: Scanner, raw: DurableCommit, codes: list[bytes]) -> Paced:
    result = Paced(typed=codes)
    slot = time.perf_counter()
    for code in codes:
        until(slot)
        latency, other = scan_and_time(scanner, code)
        result.not_ack += other
        if latency is None:
            result.unanswered += 1
        else:
            result.product.append(latency)
        until(slot + PERIOD_S / 2)
        result.raw.append(raw.commit())
        slot += PERIOD_S
        if time.perf_counter() > slot:
            result.late += 1
            slot = time.perf_counter()
    return result


@dataclass
class RunResult:
    paced: Paced
    check: JournalCheck
    exit_code: int
    days: int  # of use the balances held at the end (a fresh database: today's)

    def p(self, fraction: float, which: str) -> float:
        return percentile(getattr(self.paced, which), fraction)

    @property
    def problems(self) -> int:
        return (self.check.typed - self.check.once + self.check.not_accepted
                + self.paced.unanswered + self.paced.not_ack)  # fmt: skip


def one_run(folder: Path, index: int, scans: int, days: int = 0) -> RunResult:
    with daemon_on_ptys(folder, 1, days=days) as daemon:
        [scanner] = daemon.scanners
        raw = DurableCommit(folder / "raw.db")
        for _ in range(20):  # warm-up: the raw file's first pages
            raw.commit()
        codes = [serial_code(i, f"T{index}").encode() for i in range(scans)]
        result = paced(scanner, raw, codes)
        raw.close()
    with contextlib.closing(PtyRoundTrip()) as echo:
        slot = time.perf_counter()
        for code in codes[: max(100, len(codes) // 4)]:
            until(slot)
            result.pty.append(echo.round_trip(code + b"\r\n"))
            slot += PERIOD_S
    return RunResult(result, journal_check(daemon.database, codes), daemon.exit_code or 0,
                     daily_use_days(daemon.database))  # fmt: skip


# --- report ------------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def report_runs(results: list[RunResult]) -> None:
    rows = []
    for number, r in enumerate(results, 1):
        rows.append([number, len(r.paced.typed), ms(r.p(0.5, "product")),
                     ms(r.p(0.99, "product")), ms(max(r.paced.product, default=float("nan"))),
                     ms(r.p(0.5, "raw")), ms(r.p(0.99, "raw")), r.paced.unanswered,
                     r.paced.not_ack, r.paced.late, "pass" if r.check.lossless else "FAIL",
                     r.exit_code])  # fmt: skip
    table(["run", "scans", "product p50", "product p99", "product max", "raw p50", "raw p99",
           "unanswered", "NAK/other", "late slots", "journal", "exit"], rows)  # fmt: skip
    for number, r in enumerate(results, 1):
        print(f"run {number} journal: {r.check.line()}; daily use at the end: {r.days} days a part")
    print()


def bars(results: list[RunResult]) -> list[Bar]:
    def spread(values: list[float]) -> Spread:
        return Spread(tuple(values))

    p50 = [r.p(0.5, "product") - r.p(0.5, "raw") for r in results]
    p99 = [r.p(0.99, "product") - r.p(0.99, "raw") for r in results]
    return [
        Bar("steady p50: product - raw commit", f"<= {GOAL_P50_S * 1000:.0f} ms", spread(p50),
            ms, lambda x: x <= GOAL_P50_S),
        Bar("steady p99: product - raw commit", f"<= {GOAL_P99_S * 1000:.0f} ms", spread(p99),
            ms, lambda x: x <= GOAL_P99_S),
        Bar("  product p50, bytes in -> ACK out", "",
            spread([r.p(0.5, "product") for r in results]), ms),
        Bar("  product p99", "", spread([r.p(0.99, "product") for r in results]), ms),
        Bar("  raw single-row durable commit p50", "", spread([r.p(0.5, "raw") for r in results]),
            ms),
        Bar("  raw single-row durable commit p99", "", spread([r.p(0.99, "raw") for r in results]),
            ms),
        Bar("  pty round trip to a bare echo, p50", "",
            spread([r.p(0.5, "pty") for r in results]), ms),
        journal_bar("typed codes not journaled once and ACKed", [r.problems for r in results]),
    ]  # fmt: skip


def paced_options(description: str, default_scans: int) -> tuple[argparse.Namespace, int, int]:
    """The options of a paced bench: (arguments, runs, scans per run); --quick is one short run."""
    args = arguments(description, [
        ("--scans", {"type": int, "default": default_scans, "help": "paced scans per run"}),
        ("--days", {"type": int, "default": 0, "choices": range(14), "metavar": "0-13",
                    "help": "earlier days of use each balance holds, as weeks of production "
                            "leave it (a fresh database: 0)"}),
        *runs_arguments(),
    ])  # fmt: skip
    return args, 1 if args.quick else args.runs, 100 if args.quick else args.scans


def print_header(title: str, directory: Path) -> None:
    """The machine, then the product's revision."""
    print_machine(title, directory)
    print(f"product     {revision()}\n")


def main() -> None:
    args, runs, scans = paced_options(__doc__.splitlines()[0], 1000)
    with scratch(args) as directory:
        print_header("steady: one scanner, one scan every 30 ms through `edge run`", directory)
        results = []
        for number in range(1, runs + 1):
            results.append(one_run(directory / f"run-{number}", number, scans, args.days))
            r = results[-1]
            print(f"  run {number}: product p50 {ms(r.p(0.5, 'product'))}, p99 "
                  f"{ms(r.p(0.99, 'product'))}; raw p50 {ms(r.p(0.5, 'raw'))}, p99 "
                  f"{ms(r.p(0.99, 'raw'))}", flush=True)  # fmt: skip
        print()
        print(f"{scans} scans per run, one every {PERIOD_S * 1000:.0f} ms; a raw single-row "
              "durable commit half a period after each, same directory; "
              f"{args.days} earlier days of use a part")  # fmt: skip
        report_runs(results)
        print(f"load        {load()} at end")
        print()
        print_bars("Steady bars", bars(results), runs)


if __name__ == "__main__":
    main()
