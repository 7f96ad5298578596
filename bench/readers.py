"""Readers at scale: 1,000 serial scanners on ptys through a real ``edge run``.

A generated edge.toml binds ``--scanners`` serial scanners (default 1,000,
each the slave side of its own ``os.openpty()``, good/bad-read bytes ACK/NAK)
to one scrap station; the catalog has one stocked part, and every scanner
sends its plain part number once. The daemon runs as a subprocess
(``python -m edge run``) whose broker is a closed local port, so the relay
retries in the background and every event stays in the outbox.

Measured per run, each against its goal (SPEC §9, "scale of one box"):

* connected: scanners the daemon logged as connected (goal: all);
* read: scanners whose code got its feedback byte, and scans in the journal
  after the daemon stopped (goal: all, each once);
* idle CPU: the daemon's utime + stime over ``--idle`` seconds with every
  scanner open and nothing sent, as % of one core (goal < 5 %);
* RSS after the scans (VmRSS, and VmHWM, the peak), threads; reported, as
  are the time from the start to the last scanner connected and from
  sending every code at once to the last good-read byte;
* stop: from SIGTERM to the process's exit (goal < 5 s);
* reopen errors: log lines of scanners lost and reopened while nothing was
  unplugged (goal: none).

``--runs`` daemons (default 3) start one after another on fresh ptys and a
fresh database; the table gives the median and the spread (min-max) of each
figure. ``--tree DIR`` runs the daemon from another checkout (its ``edge``
package) instead, to put a before and an after side by side on the same
machine, in the same minute.

    .venv/bin/python bench/readers.py [--scanners 1000] [--runs 3] [--idle 10] [--tree DIR]
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import resource
import select
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import arguments, free_port, now_moment, print_machine, scratch, service_for, table
from rig import REPO, megabytes, process_sample

from edge.domain.model import Station, StationMode
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock

PART = "PART-1"
ACK, NAK = 0x06, 0x15
GOAL_IDLE_CPU_PCT = 5.0
GOAL_STOP_S = 5.0
START_CEILING_S = 120.0  # longest wait for every scanner to be logged connected
FEEDBACK_CEILING_S = 60.0  # longest wait for every feedback byte
STOP_CEILING_S = 60.0  # longest wait for the daemon to exit after SIGTERM
CONNECTED = re.compile(rb"edge\.runtime\.daemon: scanner (\S+) connected: ")
LOST = re.compile(rb"edge\.runtime\.daemon: scanner (\S+) (disconnected|error): ")


@dataclass
class Pty:
    master: int
    slave: int
    path: str

    @classmethod
    def open(cls) -> Pty:
        master, slave = os.openpty()
        return cls(master, slave, os.ttyname(slave))

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@dataclass
class Result:
    scanners: int
    connected: int
    answered: int  # ptys that got their ACK
    journaled: int  # scans in the journal, one per scanner expected
    distinct: int  # scanners among them
    connect_s: float  # from the start of the process to the last scanner connected
    answer_s: float  # from sending every code to the last feedback byte heard
    idle_cpu_pct: float
    rss_kb: int
    hwm_kb: int
    threads: int
    stop_s: float
    lost_lines: int
    exit_status: int


def raise_open_files(needed: int) -> None:
    """This process holds two descriptors per pty: raise the soft limit, or say why it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed or soft == resource.RLIM_INFINITY:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"needs {needed} open files, the hard limit is {hard} (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def write_config(directory: Path, ptys: Sequence[Pty]) -> Path:
    blocks = [
        '[site]\nid = "bench"\nnode = "readers"\n',
        '[database]\npath = "edge.db"\n',
        # Nothing listens there: the relay retries with back-off, events stay in the outbox.
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n',
        '[[station]]\nid = "SCRAP-1"\nmode = "scrap"\n',
    ]
    blocks += [
        f'[[scanner]]\nid = "s{index:04d}"\nstation = "SCRAP-1"\nkind = "serial"\n'
        f'url = "{pty.path}"\nterminator = "cr"\n'
        'feedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
        for index, pty in enumerate(ptys)
    ]
    path = directory / "edge.toml"
    path.write_text("\n".join(blocks))
    return path


def write_catalog(directory: Path) -> None:
    """One stocked part with plenty on hand, through the product's own importers."""
    items = directory / "items.csv"
    items.write_text(f"part,description,uom,stocked\n{PART},Bench part,EA,true\n")
    stock = directory / "stock.csv"
    stock.write_text(f"part,on_hand\n{PART},1000000\n")
    service = service_for(directory / "edge.db", [Station("SCRAP-1", StationMode.SCRAP)])
    import_items(service, items)
    import_stock(service, stock, now_moment())
    service.engine.dispose()


def start(config: Path, log: Path, tree: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if tree != REPO:
        env["PYTHONPATH"] = str(tree)
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tree,
        )


def wait_connected(process: subprocess.Popen[bytes], log: Path, scanners: int) -> int:
    """Wait until every scanner is logged connected (or the ceiling); how many were."""
    deadline = time.monotonic() + START_CEILING_S
    while True:
        connected = len(set(CONNECTED.findall(log.read_bytes())))
        if connected >= scanners or time.monotonic() > deadline:
            return connected
        if process.poll() is not None:
            raise SystemExit(f"the daemon exited:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def idle_cpu(pid: int, seconds: float) -> float:
    before = process_sample(pid)
    began = time.monotonic()
    time.sleep(seconds)
    after = process_sample(pid)
    return 100 * (after.cpu_s - before.cpu_s) / (time.monotonic() - began)


def scan_all(ptys: Sequence[Pty]) -> tuple[int, float]:
    """Send every pty its code at once; how many got a good-read byte back, and how soon."""
    began = time.monotonic()
    for pty in ptys:
        os.write(pty.master, PART.encode() + b"\r")
    waiting = {pty.master: pty for pty in ptys}
    poller = select.poll()  # poll(): this process's descriptors pass 1023 too
    for fd in waiting:
        poller.register(fd, select.POLLIN)
    answered = 0
    last = began
    deadline = began + FEEDBACK_CEILING_S
    while waiting and time.monotonic() < deadline:
        for fd, _events in poller.poll(500):
            data = os.read(fd, 64)
            if ACK in data:
                answered += 1
                last = time.monotonic()
            waiting.pop(fd, None)
            poller.unregister(fd)
    return answered, last - began


def journal(database: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        total, distinct = db.execute(
            "SELECT count(*), count(DISTINCT scanner) FROM scans WHERE status = 'accepted'"
        ).fetchone()
    return int(total), int(distinct)


def one_run(directory: Path, scanners: int, idle_s: float, tree: Path) -> Result:
    directory.mkdir()
    ptys = [Pty.open() for _ in range(scanners)]
    try:
        config = write_config(directory, ptys)
        write_catalog(directory)
        log = directory / "daemon.log"
        started = time.monotonic()
        process = start(config, log, tree)
        try:
            connected = wait_connected(process, log, scanners)
            connect_s = time.monotonic() - started
            time.sleep(1.0)  # let start-up work (logging, the relay's first attempts) settle
            cpu = idle_cpu(process.pid, idle_s)
            print(f"  {connected} logged connected; idle CPU {cpu:.2f} % of a core", flush=True)
            sample = process_sample(process.pid)
            answered, answer_s = scan_all(ptys)
            if process.poll() is None:
                sample = process_sample(process.pid)
                began = time.monotonic()
                process.send_signal(signal.SIGTERM)
                status = process.wait(STOP_CEILING_S)
                stop_s = time.monotonic() - began
            else:  # it died on its own: no stop to time, and its log says why
                status, stop_s = process.returncode, math.nan
                print(f"  the daemon exited with status {status} during the scans:")
                print("  " + _tail(log)[-600:].replace("\n", "\n  "))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        total, distinct = journal(directory / "edge.db")
        lost = len(LOST.findall(log.read_bytes()))
        return Result(
            scanners, connected, answered, total, distinct, connect_s, answer_s, cpu,
            sample.rss_kb, sample.hwm_kb, sample.threads, stop_s, lost, status,
        )  # fmt: skip
    finally:
        for pty in ptys:
            pty.close()


def spread(values: Sequence[float], fmt: str) -> str:
    median = statistics.median(values)
    if len(values) == 1:
        return format(median, fmt)
    return f"{format(median, fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def report(results: Sequence[Result]) -> None:
    scanners = results[0].scanners

    def row(name: str, values: list[float], fmt: str, goal: str, met: bool) -> list[str]:
        return [name, spread(values, fmt), goal, "yes" if met else "NO"]

    rows = [
        row("connected", [r.connected for r in results], ".0f", f"{scanners}",
            all(r.connected == scanners for r in results)),
        row("feedback (ACK)", [r.answered for r in results], ".0f", f"{scanners}",
            all(r.answered == scanners for r in results)),
        row("journal rows, accepted", [r.journaled for r in results], ".0f", f"{scanners}",
            all(r.journaled == scanners == r.distinct for r in results)),
        row("idle CPU, % of a core", [r.idle_cpu_pct for r in results], ".2f",
            f"< {GOAL_IDLE_CPU_PCT:g}", all(r.idle_cpu_pct < GOAL_IDLE_CPU_PCT for r in results)),
        row("SIGTERM to exit, s", [r.stop_s for r in results], ".2f", f"< {GOAL_STOP_S:g}",
            all(r.stop_s < GOAL_STOP_S for r in results)),
        row("lost/error lines in the log", [r.lost_lines for r in results], ".0f", "0",
            all(r.lost_lines == 0 for r in results)),
        row("exit status", [r.exit_status for r in results], ".0f", "0",
            all(r.exit_status == 0 for r in results)),
    ]  # fmt: skip
    rss = [r.rss_kb * 1024 for r in results]
    hwm = [r.hwm_kb * 1024 for r in results]
    rows.append(["RSS after the scans", f"{megabytes(int(statistics.median(rss)))} "
                 f"(peak {megabytes(int(statistics.median(hwm)))})", "reported", "-"])  # fmt: skip
    rows.append(["threads", spread([r.threads for r in results], ".0f"), "reported", "-"])
    rows.append(["start to all connected, s", spread([r.connect_s for r in results], ".2f"),
                 "reported", "-"])  # fmt: skip
    rows.append([f"{scanners} codes at once, last ACK after s",
                 spread([r.answer_s for r in results], ".2f"), "reported", "-"])  # fmt: skip
    print(f"{len(results)} runs, median (min-max):")
    table(["measure", "result", "goal", "met"], rows)


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        [
            ("--scanners", {"type": int, "default": 1000, "help": "serial scanners (ptys)"}),
            ("--runs", {"type": int, "default": 3, "help": "daemons started one after another"}),
            ("--idle", {"type": float, "default": 10.0, "help": "seconds of idle CPU measured"}),
            ("--tree", {"type": Path, "default": REPO, "help": "checkout the daemon runs from"}),
        ],
    )
    # Two descriptors per pty here, and a margin for the rest of the bench.
    raise_open_files(2 * args.scanners + 256)
    with scratch(args) as directory:
        print_machine(f"Readers at scale: {args.scanners} serial scanners on ptys", directory)
        print(f"daemon from {args.tree.resolve()}\n")
        results = []
        for number in range(args.runs):
            result = one_run(directory / f"run-{number}", args.scanners, args.idle, args.tree)
            print(f"run {number + 1}: {result}", flush=True)
            results.append(result)
        print()
        report(results)


if __name__ == "__main__":
    main()
