"""Fixtures for fault tests: ``edge run`` as a real process, virtual scanners, a small disk.

Everything is real: the daemon is ``python -m edge run`` with a config file,
its database a SQLite file (WAL, synchronous=FULL), its scanners real ptys
(behind a ``/dev/serial/by-id``-like symlink, so they can be unplugged and
plugged back) or a TCP server behind ``socket://``, its broker a Mosquitto on
a free loopback port (never 1883). Faults are real too: SIGKILL, a broker
stopped and started, a size-limited tmpfs filled up.

* ``make_broker`` (from the integration tests): a started Mosquitto;
* ``daemons``: starts ``edge run`` processes and kills any left at the end;
* ``make_line``: a config and database with the demo catalog and BOMs;
* ``small_disk``: a tmpfs of a few MiB mounted for the test (skipped with a
  reason where mounting is not allowed).

Every wait polls with a generous ceiling; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from edge.config import load_config
from edge.demo import DEMO_DATA
from edge.domain import exactjson
from edge.domain.quantity import total
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.runtime.bootstrap import build_service
from tests.broker import Mosquitto, poll
from tests.integration.conftest import make_broker  # noqa: F401 - a fixture, used by name
from tests.scanner_pty import CEILING_S, listen

REPO = Path(__file__).resolve().parents[2]
SITE = "plant-1"
NODE = "fault-line"
PREFIX = f"backflush/{SITE}/{NODE}"
ACK, NAK = 0x06, 0x15
SHIP_GTIN = "09506000134352"  # FG-PUMP-100 (edge/demo/data/items.csv)
SCRAP_GTIN = "09506000134369"  # FG-PUMP-200


# --------------------------------------------------------------------------- scanners


class PtyScanner:
    """A serial (USB-CDC) scanner: a pty reachable at a stable symlink like /dev/serial/by-id.

    The test holds both ends. Writing to the master is the scanner sending a
    code; what the daemon writes back (good/bad-read feedback) is read from
    the master. Unplugging closes the pty (the daemon's next read fails) and
    removes the link; plugging creates a new pty behind the same link.
    """

    def __init__(self, scanner_id: str, station: str, link: Path) -> None:
        self.id = scanner_id
        self.station = station
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None
        self.heard = bytearray()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return str(self.link)

    def plug(self) -> None:
        master, slave = os.openpty()
        self.master, self.slave = master, slave
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(os.ttyname(slave))

    def unplug(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = None

    def type(self, code: str) -> None:
        assert self.master is not None, "the scanner is unplugged"
        os.write(self.master, code.encode() + b"\r")

    def hear(self, timeout: float = 0.05) -> None:
        """Take whatever feedback has arrived (waiting at most ``timeout`` for the first byte)."""
        master = self.master
        if master is None:
            return
        ready, _, _ = select.select([master], [], [], timeout)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            with self._lock:
                self.heard += data

    def heard_count(self) -> int:
        with self._lock:
            return len(self.heard)

    def wait_heard(self, count: int, ceiling: float = CEILING_S) -> bytes:
        """Wait until ``count`` feedback bytes in all have been heard."""

        def enough() -> bool:
            self.hear()
            return self.heard_count() >= count

        poll(enough, f"{count} feedback bytes from scanner {self.id}", ceiling, interval=0)
        with self._lock:
            return bytes(self.heard)

    def drain(self) -> bytes:
        """Everything written back so far, once its writer has exited; empties ``heard``.

        A byte written on the pty's own line after the daemon died arrives
        after everything the daemon wrote, so reading up to it takes all of
        the daemon's feedback without guessing how long the kernel needs.
        """
        assert self.slave is not None
        marker = len(self.heard)
        os.write(self.slave, b"#")

        def marker_seen() -> bool:
            self.hear()
            return b"#" in self.heard[marker:]

        poll(marker_seen, f"scanner {self.id}'s feedback to be flushed", CEILING_S, interval=0)
        with self._lock:
            data = bytes(self.heard)
            self.heard.clear()
        end = data.rindex(b"#")
        assert not data[end + 1 :], f"feedback after the daemon exited: {data!r}"
        return data[:end]


class NetworkScanner:
    """A fixed-mount scanner on Ethernet: a TCP server the daemon reaches at ``socket://``.

    Powering it off closes the connection and the listener; powering it on
    listens again on the same port, and the daemon reconnects.
    """

    def __init__(self, scanner_id: str, station: str) -> None:
        self.id = scanner_id
        self.station = station
        self.port = 0
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.heard = bytearray()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def plug(self) -> None:
        self.listener = listen(self.port)
        self.port = self.listener.getsockname()[1]

    def accept(self) -> None:
        """Take the daemon's connection (it connects from its reader thread)."""
        assert self.listener is not None
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(0.05)

    def unplug(self) -> None:
        for sock in (self.conn, self.listener):
            if sock is not None:
                sock.close()
        self.conn = self.listener = None

    def type(self, code: str) -> None:
        assert self.conn is not None, "the scanner is not connected"
        self.conn.sendall(code.encode() + b"\r")

    def wait_heard(self, count: int, ceiling: float = CEILING_S) -> bytes:
        def enough() -> bool:
            assert self.conn is not None
            with contextlib.suppress(TimeoutError):
                chunk = self.conn.recv(4096)
                assert chunk, f"the daemon closed the connection after {bytes(self.heard)!r}"
                self.heard += chunk
            return len(self.heard) >= count

        poll(enough, f"{count} feedback bytes from scanner {self.id}", ceiling, interval=0)
        return bytes(self.heard)


Scanner = PtyScanner | NetworkScanner


@pytest.fixture
def by_id() -> Iterator[Path]:
    """A folder playing /dev/serial/by-id.

    Not under tmp_path: pytest prunes old base temp folders when a session
    starts, and could remove a link a running daemon is retrying.
    """
    with tempfile.TemporaryDirectory(prefix="by-id-") as directory:
        yield Path(directory)


@pytest.fixture
def pack_scanner(by_id: Path) -> Iterator[PtyScanner]:
    """A serial scanner at the pack station, plugged in for the test."""
    scanner = PtyScanner("pack", "PACK-1", by_id / "usb-Acme_Scanner_PACK-if00")
    scanner.plug()
    yield scanner
    scanner.unplug()


# --------------------------------------------------------------------------- the line


@dataclass
class Line:
    """A packing line's edge node: its config, database and scanners."""

    directory: Path
    config_path: Path
    database: Path
    scanners: list[Scanner]

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.database, timeout=30)

    def rows(self, sql: str, *args: object) -> list[Any]:
        with contextlib.closing(self.connect()) as db:
            return db.execute(sql, args).fetchall()

    def journal(self) -> list[tuple[int, str, str, str, str | None]]:
        """(id, scanner, code, status, reason) of every scan, in commit order."""
        return self.rows("SELECT id, scanner, code, status, reason FROM scans ORDER BY id")

    def last_scan_id(self) -> int:
        return int(self.rows("SELECT coalesce(max(id), 0) FROM scans")[0][0])

    def last_seq(self) -> int:
        return int(self.rows("SELECT coalesce(max(seq), 0) FROM outbox")[0][0])

    def unpublished(self) -> int:
        return int(self.rows("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0])


def write_config(
    directory: Path,
    broker: Mosquitto,
    scanners: Sequence[Scanner],
    *,
    database: Path,
    min_free_mb: int | None = None,
) -> Path:
    """An ``edge.toml`` with a ship and a scrap station and the given scanners."""
    database_lines = [f'path = "{database}"']
    if min_free_mb is not None:
        database_lines.append(f"min_free_mb = {min_free_mb}")
    lines = [
        "[site]",
        f'id = "{SITE}"',
        f'node = "{NODE}"',
        "",
        "[database]",
        *database_lines,
        "",
        "[mqtt]",
        f'host = "{broker.host}"',
        f"port = {broker.port}",
        "keepalive = 5",
        "reconnect_max_s = 2",
        "",
        "[[station]]",
        'id = "PACK-1"',
        'mode = "ship"',
        "",
        "[[station]]",
        'id = "SCRAP-1"',
        'mode = "scrap"',
    ]
    for scanner in scanners:
        lines += [
            "",
            "[[scanner]]",
            f'id = "{scanner.id}"',
            f'station = "{scanner.station}"',
            'kind = "serial"',
            f'url = "{scanner.url}"',
            'terminator = "cr"',
            'feedback_good = "\\u0006"',
            'feedback_bad = "\\u0015"',
        ]
    path = directory / "edge.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_line(tmp_path: Path) -> Callable[..., Line]:
    """A config naming the broker and scanners, and a database holding the demo catalog."""

    def make(
        broker: Mosquitto,
        scanners: Sequence[Scanner],
        *,
        database: Path | None = None,
        min_free_mb: int | None = None,
    ) -> Line:
        database = database or tmp_path / "edge.db"
        config_path = write_config(
            tmp_path, broker, scanners, database=database, min_free_mb=min_free_mb
        )
        service = build_service(load_config(config_path))
        import_items(service, DEMO_DATA / "items.csv")
        import_bom(service, DEMO_DATA / "bom.csv")
        service.engine.dispose()
        return Line(tmp_path, config_path, database, list(scanners))

    return make


# --------------------------------------------------------------------------- the daemon


class EdgeRun:
    """One ``edge run`` process writing to a log file the test reads."""

    def __init__(self, line: Line, log: Path) -> None:
        self.line = line
        self.log = log
        self.offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", "run", "--config", str(line.config_path),
                 "--verbose"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip

    def log_text(self) -> str:
        """What this process has logged so far."""
        return self.log.read_bytes()[self.offset :].decode(errors="replace")

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log_text()))

    def wait_log(self, pattern: str, times: int = 1, ceiling: float = CEILING_S) -> None:
        def seen() -> bool:
            assert self.process.poll() is None, f"edge run exited:\n{self.log_text()}"
            return self.count(pattern) >= times

        poll(seen, f"{times} x {pattern!r} in the daemon's log", ceiling)

    def connections(self, scanner: Scanner) -> int:
        return self.count(rf"scanner {re.escape(scanner.id)} connected:")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(CEILING_S)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(CEILING_S)


@pytest.fixture
def daemons() -> Iterator[Callable[[Line], EdgeRun]]:
    """Start ``edge run`` for a line and wait until every scanner is connected."""
    started: list[EdgeRun] = []

    def start(line: Line) -> EdgeRun:
        run = EdgeRun(line, line.directory / "edge-run.log")
        started.append(run)
        for scanner in line.scanners:
            if isinstance(scanner, NetworkScanner):
                scanner.accept()
        for scanner in line.scanners:
            run.wait_log(rf"scanner {re.escape(scanner.id)} connected:")
        return run

    yield start
    for run in started:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()


# --------------------------------------------------------------------------- a small disk


@dataclass
class SmallDisk:
    """A size-limited tmpfs; ``fill`` takes space away, ``free_up`` gives it back."""

    mount: Path
    fillers: list[Path] = field(default_factory=list)

    def free_mb(self) -> float:
        return os.statvfs(self.mount).f_bavail * os.statvfs(self.mount).f_frsize / 2**20

    def fill(self, leave_mb: float = 0) -> None:
        """Write filler files until at most ``leave_mb`` MiB are left (0: the disk is full)."""
        filler = self.mount / f"filler-{len(self.fillers)}"
        self.fillers.append(filler)
        chunk = b"\0" * 65536
        with filler.open("wb") as file:
            try:
                while self.free_mb() > leave_mb:
                    file.write(chunk)
                    file.flush()
                if leave_mb == 0:  # the last few bytes too
                    while True:
                        file.write(b"\0" * 512)
                        file.flush()
            except OSError as error:
                if leave_mb != 0 or error.errno != errno.ENOSPC:
                    raise

    def free_up(self) -> None:
        for filler in self.fillers:
            filler.unlink()
        self.fillers.clear()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 16 MiB tmpfs mounted under tmp_path for this test only."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield SmallDisk(mount)
    finally:
        # Lazy: a daemon the test left running is killed by its own fixture later.
        subprocess.run(["umount", "-l", str(mount)], check=False)


# --------------------------------------------------------------------------- invariants


def assert_balances_equal_ledger(line: Line) -> None:
    ledger: dict[str, list[Decimal]] = {}
    for part, quantity in line.rows("SELECT part, quantity FROM ledger"):
        ledger.setdefault(part, []).append(Decimal(quantity))
    balances = {part: Decimal(on_hand) for part, on_hand in line.rows(
        "SELECT part, on_hand FROM balances")}  # fmt: skip
    assert set(balances) == set(ledger)
    for part, quantities in ledger.items():
        assert balances[part] == total(quantities), part


def assert_scans_and_ledger_agree(line: Line) -> None:
    """Each accepted part scan has one transaction and exactly the ledger rows of its BOM.

    Rejected and duplicate scans have none. The expected rows come from the
    structure the transaction recorded (``bom_hash``), times its quantity.
    """
    structures = {
        bom_hash: exactjson.loads(lines)
        for bom_hash, lines in line.rows("SELECT bom_hash, lines FROM bom_structures")
    }
    transactions = line.rows(
        "SELECT t.id, t.scan_id, t.kind, t.quantity, t.bom_hash, s.status "
        "FROM transactions t LEFT JOIN scans s ON s.id = t.scan_id WHERE t.scan_id IS NOT NULL"
    )
    per_scan = Counter(row[1] for row in transactions)
    assert [scan for scan, times in per_scan.items() if times > 1] == []
    accepted_parts = {
        scan_id
        for (scan_id,) in line.rows(
            "SELECT id FROM scans WHERE status = 'accepted' AND gtin IS NOT NULL"
        )
    }
    assert set(per_scan) == accepted_parts
    ledger: dict[int, list[tuple[str, Decimal]]] = {}
    for txn_id, part, quantity in line.rows("SELECT txn_id, part, quantity FROM ledger"):
        ledger.setdefault(txn_id, []).append((part, Decimal(quantity)))
    for txn_id, _scan_id, kind, quantity, bom_hash, status in transactions:
        assert status == "accepted"
        assert kind in {"backflush", "scrap"}, kind
        expected = sorted(
            (part, -Decimal(per_unit) * Decimal(quantity))
            for part, per_unit in structures[bom_hash]
        )
        assert sorted(ledger[txn_id]) == expected, txn_id


def assert_every_event_delivered(line: Line, events: list[dict[str, Any]]) -> int:
    """Every outbox event arrived (de-duplicated by event_id), seq 1..n without gaps.

    Returns how many copies were duplicates.
    """
    outbox = line.rows("SELECT seq, event_id FROM outbox ORDER BY seq")
    last = len(outbox)
    assert [seq for seq, _ in outbox] == list(range(1, last + 1))
    unique = {event["event_id"]: event for event in events}
    assert {event_id: event["seq"] for event_id, event in unique.items()} == {
        event_id: seq for seq, event_id in outbox
    }
    for copy in events:  # a copy sent again differs only by the replayed flag
        bare = {k: v for k, v in copy.items() if k != "replayed"}
        assert bare == {k: v for k, v in unique[copy["event_id"]].items() if k != "replayed"}
    accepted_events = line.rows(
        "SELECT t.event_id FROM transactions t JOIN scans s ON s.id = t.scan_id "
        "WHERE s.status = 'accepted'"
    )
    assert {event_id for (event_id,) in accepted_events} <= set(unique)
    return len(events) - len(unique)
