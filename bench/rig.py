"""``edge run`` on pty scanners with our own mosquitto, and what a daemon process uses.

:func:`daemon_on_ptys` yields a running daemon once every scanner has
acknowledged a warm-up code; :func:`journal_check` holds each typed code
against the journal afterwards.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(REPO))

from baselines import snapshot  # noqa: E402
from common import (  # noqa: E402
    free_port,
    import_catalog,
    seed_daily_use,
    serial_code,
    write_seven_component_catalog,
)

from edge.config import load_config  # noqa: E402
from edge.runtime.bootstrap import build_service  # noqa: E402


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


class PortTaken(Exception):
    """Mosquitto could not bind its port: someone took it after it was found free."""


class Broker:
    """Our own mosquitto on a free loopback port (never 1883), no persistence unless asked.

    ``persistent``: sessions and their queued messages survive :meth:`restart`
    (written at SIGTERM), as a production broker keeps them.
    """

    def __init__(self, directory: Path, *, persistent: bool = False) -> None:
        self.directory = directory
        self.persistent = persistent
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.port = free_port()
        self._write_config()
        self.started = False
        self.process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> None:
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true",
                 "log_dest stderr", "log_type error", "log_type warning",
                 "max_queued_messages 1000000"]  # fmt: skip
        lines += ["persistence true", f"persistence_location {self.directory}/"] if (
            self.persistent) else ["persistence false"]  # fmt: skip
        if os.geteuid() == 0:
            lines.append("user root")
        self.config.write_text("\n".join(lines) + "\n")

    def __enter__(self) -> Broker:
        # A free port can be taken by another process between the probe and mosquitto's
        # bind (parallel tests start brokers too): before the first start, another port.
        for _ in range(5):
            try:
                return self._start()
            except PortTaken as taken:
                if self.started:
                    raise SystemExit(
                        f"port {self.port} was taken while the broker restarted"
                    ) from taken
                self.port = free_port()
                self._write_config()
        raise SystemExit("mosquitto found no free port in five tries")

    def _start(self) -> Broker:
        if not Path(MOSQUITTO).exists():
            raise SystemExit(f"{MOSQUITTO} is missing (apt-get install mosquitto)")
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=sink,
                                            stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                log = self.log.read_text()[-2000:]
                if "Address already in use" in log:
                    raise PortTaken(self.port)
                raise SystemExit(f"mosquitto exited on start:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self.started = True
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("mosquitto did not accept connections") from None
                time.sleep(0.02)

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)

    def restart(self) -> None:
        """SIGTERM, then the same broker on the same port again."""
        self.__exit__()
        self.__enter__()


def daemon_config(directory: Path, broker_port: int, scanners: Sequence[Scanner],
                  station: str = "PACK-1", node: str = "edge") -> Path:  # fmt: skip
    """An edge.toml: one ship station, the scanners on their ptys, our broker.

    Commands from central systems are on: the daemon is measured with every
    client it runs (the commands subscriber idles through the benches).
    """
    blocks = [f'[site]\nid = "bench"\nnode = "{node}"\n', '[database]\npath = "edge.db"\n',
              f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n',
              '[commands]\nenabled = true\n',
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
def daemon_on_ptys(folder: Path, count: int, *, days: int = 0) -> Iterator[RunningDaemon]:
    """A fresh database with the 7-component catalog (its balances with ``days`` earlier
    days of use), ``count`` pty scanners, our broker, and the daemon, yielded once every
    scanner has acknowledged a warm-up code."""
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
            seed_daily_use(database, days)
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


ANSWER_CEILING_S = 10.0  # longest wait for one ACK before the scan counts as unanswered


def scan_and_time(scanner: Scanner, code: bytes) -> tuple[float | None, int]:
    """Type ``code`` + CRLF: seconds to its ACK byte (None: none came), other bytes first."""
    began = time.perf_counter()
    os.write(scanner.master, code + b"\r\n")
    return answer(scanner, began)


def answer(scanner: Scanner, began: float) -> tuple[float | None, int]:
    """Seconds from ``began`` to the first ACK byte, and how many other bytes came first."""
    other = 0
    deadline = began + ANSWER_CEILING_S
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None, other
        ready, _, _ = select.select([scanner.master], [], [], left)
        if not ready:
            continue
        data = os.read(scanner.master, 64)
        heard = time.perf_counter()
        if ACK in data:
            return heard - began, other + len(data) - 1
        other += len(data)
