"""What `edge run` logs: a subprocess with real pty scanners, a real SQLite file, a real broker.

* one INFO line per scan outcome (station, scanner, outcome, reason, ms to
  commit, the code escaped and cut at 80 characters), matching the journal;
* with stderr on the journal stream systemd announced (``JOURNAL_STREAM``),
  ``<N>`` priority prefixes and no timestamp of our own;
* paho's packet traces only with ``--log-mqtt``, not with ``-v``;
* no Alembic lines when a normal start creates the database.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.config import load_config
from edge.runtime.bootstrap import build_service
from edge.runtime.logs import (
    JournalFormatter,
    LoggedCode,
    configure,
    journal_stream,
    priority,
    set_levels,
)
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from hardware.reads import RawRead
from tests.broker import Mosquitto, poll
from tests.integration.conftest import load_demo_catalog
from tests.scanner_pty import CEILING_S, Pty, free_port
from tests.unit.test_evdev_reader import FakeSource
from tests.unit.test_evdev_reader import Harness as EvdevHarness
from tests.unit.test_evdev_reader import info as evdev_info

REPO = Path(__file__).resolve().parents[2]
ACK, NAK = 0x06, 0x15
SHIP_GTIN = "09506000134352"  # FG-PUMP-100 in the demo catalog
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")
SCAN_LINE = re.compile(
    r"edge\.scanpath\.writer: scan (?P<id>\d+) (?P<status>\w+): station (?P<station>\S+) "
    r"scanner (?P<scanner>\S+) reason (?P<reason>\S+), (?P<ms>\d+\.\d) ms to commit; "
    r"code (?P<code>.*)$"
)
PAHO_TRACE = re.compile(r"edge\.publish\.relay\.paho: (Sending|Received) [A-Z]+")


@dataclass
class Node:
    directory: Path
    config: Path
    database: Path
    pty: Pty

    def journal(self) -> list[tuple[int, str, str, str, str | None]]:
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT id, station, scanner, status, reason FROM scans ORDER BY id")
            return rows.fetchall()

    def published(self) -> int:
        with sqlite3.connect(self.database) as db:
            query = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
            return int(db.execute(query).fetchone()[0])

    def send(self, data: bytes) -> None:
        """The scanner sends a code: raw bytes (control characters too), then CR."""
        os.write(self.pty.master, data + b"\r")


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """A ship station with one pty scanner; the demo catalog unless ``fresh``."""
    ptys: list[Pty] = []

    def make(*, broker: Mosquitto | None = None, fresh: bool = False, extra: str = "") -> Node:
        pty = Pty.open()
        ptys.append(pty)
        host, port = (broker.host, broker.port) if broker else ("127.0.0.1", free_port())
        config = tmp_path / "edge.toml"
        config.write_text(
            '[site]\nid = "plant-1"\nnode = "logs"\n\n[database]\npath = "edge.db"\n\n'
            f'[mqtt]\nhost = "{host}"\nport = {port}\nkeepalive = 5\n\n'
            '[[station]]\nid = "PACK-1"\nmode = "ship"\n\n'
            '[[scanner]]\nid = "pack-1-ser"\nstation = "PACK-1"\nkind = "serial"\n'
            f'url = "{pty.path}"\nterminator = "cr"\n'
            # A long window: the repeat is a duplicate however slow the machine is.
            "debounce_ms = 600000\n"
            'feedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n' + extra
        )
        if not fresh:
            load_demo_catalog(config)
        return Node(tmp_path, config, tmp_path / "edge.db", pty)

    yield make
    for pty in ptys:
        pty.close()


class EdgeRun:
    """``edge run`` with stdout and stderr in one file, as a unit's journal stream has them."""

    def __init__(self, node: Node, *flags: str, journal: bool = False) -> None:
        self.log = node.directory / "edge-run.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("JOURNAL_STREAM", None)
        with self.log.open("wb") as sink:
            if journal:
                stat = os.fstat(sink.fileno())
                env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", "run", "--config", str(node.config), *flags],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, pattern: str, times: int = 1) -> None:
        def seen() -> bool:
            assert self.process.poll() is None, f"edge run exited:\n{self.text()}"
            return len(re.findall(pattern, self.text())) >= times

        poll(seen, f"{times} x {pattern!r} in the log", CEILING_S)

    def stop(self) -> list[str]:
        """SIGTERM; the lines it logged once it has exited cleanly."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(CEILING_S) == 0, self.text()
        return self.text().splitlines()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def edge_run() -> Iterator[Callable[..., EdgeRun]]:
    started: list[EdgeRun] = []

    def start(node: Node, *flags: str, journal: bool = False) -> EdgeRun:
        run = EdgeRun(node, *flags, journal=journal)
        started.append(run)
        run.wait_log(r"scanner pack-1-ser connected:")
        return run

    yield start
    for run in started:
        run.kill()


CONTROL_CODE = b"BAD\x07\x1b\xe2\x80\x8bCODE"  # BEL, ESC, a zero-width space (U+200B)
NOT_UTF8 = b"\xffZ"
LONG_CODE = b"L" * 150
# A second scanner that is never there.
ABSENT_SCANNER = (
    '\n[[scanner]]\nid = "absent"\nstation = "PACK-1"\nkind = "serial"\nurl = "/nonexistent/s"\n'
)


def scan_all(node: Node, run: EdgeRun) -> None:
    """Accepted, duplicate (no feedback: wait for its line), and three rejected codes."""
    accepted = f"(01){SHIP_GTIN}(21)LOG0001".encode()
    node.send(accepted)
    assert node.pty.listen(1) == bytes([ACK])
    node.send(accepted)
    run.wait_log(r"scan \d+ duplicate:")
    for count, code in enumerate((CONTROL_CODE, NOT_UTF8, LONG_CODE), start=2):
        node.send(code)
        node.pty.listen(count)
    assert node.pty.heard == bytes([ACK, NAK, NAK, NAK])


def scan_lines(lines: list[str]) -> list[re.Match[str]]:
    return [match for line in lines if (match := SCAN_LINE.search(line))]


def test_one_info_line_per_scan_outcome_matching_the_journal(
    make_node: Callable[..., Node], edge_run: Callable[..., EdgeRun]
) -> None:
    node = make_node()
    run = edge_run(node)
    scan_all(node, run)
    lines = run.stop()

    found = scan_lines(lines)
    journal = node.journal()
    assert len(found) == len(journal) == 5
    for match, (scan_id, station, scanner, status, reason) in zip(found, journal, strict=True):
        assert int(match["id"]) == scan_id
        assert (
            (match["station"], match["scanner"]) == (station, scanner) == ("PACK-1", "pack-1-ser")
        )
        assert match["status"] == status
        assert match["reason"] == (reason or "-")
        assert float(match["ms"]) >= 0
    assert [m["status"] for m in found] == ["accepted", "duplicate", *["rejected"] * 3]
    codes = [m["code"] for m in found]
    assert codes[:2] == [f"(01){SHIP_GTIN}(21)LOG0001"] * 2
    assert codes[2] == r"BAD\x07\x1b\u200bCODE"
    assert codes[3] == r"\xffZ"
    assert codes[4] == "L" * 80 + "…(+70)"
    # Outside the journal: time, level and logger; the line is INFO.
    for line in lines:
        if SCAN_LINE.search(line):
            assert TIMESTAMP.match(line), line
            assert " INFO edge.scanpath.writer: scan " in line
    # Each connection change is logged once, by the daemon.
    assert sum(bool(re.search(r"pack-1-ser:? connected", line)) for line in lines) == 1


def test_under_the_journal_lines_carry_priorities_and_no_timestamp(
    make_node: Callable[..., Node], edge_run: Callable[..., EdgeRun]
) -> None:
    node = make_node(extra=ABSENT_SCANNER)  # its "disconnected" is a WARNING: <4>
    run = edge_run(node, journal=True)
    scan_all(node, run)
    lines = run.stop()

    assert lines
    for line in lines:
        assert re.match(r"<[2-7]>\S+: ", line), line
        assert not TIMESTAMP.search(line), line
    found = scan_lines(lines)
    assert len(found) == 5
    assert all(m.string.startswith("<6>edge.scanpath.writer: scan ") for m in found)
    assert any(line.startswith("<4>edge.runtime.daemon: scanner absent disconnected:")
               for line in lines)  # fmt: skip


def test_paho_traces_only_with_log_mqtt(
    make_node: Callable[..., Node],
    edge_run: Callable[..., EdgeRun],
    make_broker: Callable[..., Mosquitto],
) -> None:
    broker = make_broker()
    # The absent scanner's DEBUG lines (open failed, retrying) show what -v gives.
    node = make_node(broker=broker, extra=ABSENT_SCANNER)
    code = 0

    def one_published_scan(*flags: str) -> list[str]:
        nonlocal code
        code += 1
        run = edge_run(node, *flags)
        run.wait_log(r"edge\.publish\.relay: connected to ")
        before = node.published()
        node.send(f"(01){SHIP_GTIN}(21)MQTT{code:04d}".encode())
        poll(lambda: node.published() > before, "the scan's event published", CEILING_S)
        return run.stop()

    verbose = one_published_scan("-v")
    assert any(" DEBUG hardware.serial.reader: " in line for line in verbose)
    assert not [line for line in verbose if PAHO_TRACE.search(line)]

    traced = one_published_scan("--log-mqtt")
    traces = [line for line in traced if PAHO_TRACE.search(line)]
    for packet in ("Sending CONNECT", "Received CONNACK", "Sending PUBLISH", "Received PUBACK"):
        assert any(packet in line for line in traces), (packet, traced)
    # --log-mqtt alone turns on paho's traces, not the rest of DEBUG.
    assert not any(" DEBUG hardware.serial.reader: " in line for line in traced)


def test_a_normal_start_on_a_fresh_database_has_no_alembic_lines(
    make_node: Callable[..., Node], edge_run: Callable[..., EdgeRun]
) -> None:
    node = make_node(fresh=True)
    assert not node.database.exists()
    run = edge_run(node)
    lines = run.stop()
    assert node.database.exists()
    assert not [line for line in lines if "alembic" in line]
    # The same start with -v shows them: the check above can fail.
    for suffix in ("", "-wal", "-shm"):  # a stale log beside a new file would be replayed
        node.database.with_name(node.database.name + suffix).unlink(missing_ok=True)
    verbose = edge_run(node, "-v").stop()
    assert any("alembic.runtime.migration: Context impl SQLiteImpl" in line for line in verbose)


# --------------------------------------------------------------------------- the pieces


def test_priorities_follow_syslog() -> None:
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
    assert [priority(level) for level in levels] == [7, 6, 4, 3, 2]
    assert priority(logging.INFO + 5) == 6  # a level between two takes the lower one's


def _fail() -> None:
    raise RuntimeError("boom")


def test_a_traceback_carries_the_priority_on_every_line() -> None:
    try:
        _fail()
    except RuntimeError:
        record = logging.LogRecord(
            "edge.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    lines = JournalFormatter().format(record).split("\n")
    assert lines[0] == "<3>edge.x: failed"
    assert len(lines) > 2
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


def test_an_inherited_journal_stream_for_another_file_is_not_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tmp_path / "a").open("w") as mine, (tmp_path / "b").open("w") as other:
        stat = os.fstat(other.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        assert journal_stream(other)
        assert not journal_stream(mine)
        monkeypatch.setenv("JOURNAL_STREAM", "not-a-stream")
        assert not journal_stream(other)
        monkeypatch.delenv("JOURNAL_STREAM")
        assert not journal_stream(other)


# --------------------------------------------------------------------------- in process


def test_scans_held_while_storage_is_refused_are_logged_when_journaled(
    make_node: Callable[..., Node], caplog: pytest.LogCaptureFixture
) -> None:
    """The real writer on the node's SQLite file; the free-space floor refuses, then allows."""
    node = make_node()
    service = build_service(load_config(node.config))
    refused: list[bool] = []
    route = ScannerRoute("PACK-1", b"", b"", 0.0, feedback=refused.append)
    writer = ScanWriter(
        service,
        ReadQueue(100),
        {"pack-1-ser": route},
        database_path=node.database,
        min_free_mb=float(2**40),  # more than any disk: the floor refuses every write
    )
    codes = [f"(01){SHIP_GTIN}(21)HELD{n}".encode() for n in (1, 2)]
    read_at = time.monotonic()
    with caplog.at_level(logging.INFO, logger="edge.scanpath.writer"):
        writer.process([QueuedRead("pack-1-ser", RawRead(code, read_at)) for code in codes])
        assert refused == [False, False]
        assert not scan_lines([r.getMessage() for r in caplog.records])  # nothing journaled yet
        writer.space.min_free_mb = 0
        writer.process([])
    service.engine.dispose()
    records = [r for r in caplog.records if SCAN_LINE.search(f"{r.name}: {r.getMessage()}")]
    assert {r.levelno for r in records} == {logging.INFO}
    found = scan_lines([f"{r.name}: {r.getMessage()}" for r in records])
    journal = node.journal()
    assert len(found) == len(journal) == 2
    for match, code, (scan_id, _station, _scanner, status, reason) in zip(
        found, codes, journal, strict=True
    ):
        assert (int(match["id"]), match["status"], match["reason"]) == (scan_id, status, reason)
        assert (status, reason) == ("rejected", "storage-unavailable")
        assert match["code"] == code.decode()


def test_an_evdev_scanner_reports_one_disconnection_per_absence() -> None:
    """Removed, then rescans that find nothing: one "disconnected", not one per step."""
    source = FakeSource(evdev_info())
    with EvdevHarness(source) as harness:
        harness.wait_state("connected")
        source.unplug("/dev/input/event5")
        harness.wait_state("disconnected", "device removed")
        for _ in range(3):
            listed = source.calls.count("devices")
            source.changed.set()
            harness.wait_for("rescan", lambda n=listed: source.calls.count("devices") > n)
        source.plug(evdev_info())
        connected = lambda: [s for s, _d in harness.states].count("connected") == 2  # noqa: E731
        harness.wait_for("reconnect", connected)
    # The last one is the stop.
    states = [state for state, _detail in harness.states]
    assert states == ["connected", "disconnected", "connected", "disconnected"]


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"ABC-123", "ABC-123"),
        (b"tab\there", r"tab\there"),
        ("café ü".encode(), "café ü"),  # printable non-ASCII stays as it is
        (b"back\\slash", r"back\\slash"),
        (b"\x00\x1d\x7f", r"\x00\x1d\x7f"),  # NUL, GS (the GS1 separator), DEL
        (b"A" * 80, "A" * 80),
        (b"A" * 81, "A" * 80 + "…(+1)"),
        # The cut never splits an escape: 79 characters and a 4-character escape.
        (b"A" * 79 + b"\x07" + b"B", "A" * 79 + "…(+2)"),
        (b"\xff" * 30, r"\xff" * 20 + "…(+10)"),
    ],
)
def test_a_logged_code_is_escaped_and_cut(data: bytes, shown: str) -> None:
    assert str(LoggedCode(data)) == shown


def test_configure_replaces_its_own_handler_only(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    other = logging.NullHandler()
    root.addHandler(other)
    before = [h for h in root.handlers if h is not other]
    srcfile = logging._srcfile  # configure() turns the caller lookup off; put it back after
    try:
        configure(verbose=False, timestamps=False)
        configure(verbose=True, timestamps=False)
        added = [h for h in root.handlers if h is not other and h not in before]
        assert len(added) == 1
        assert other in root.handlers
        logging.getLogger("edge.test").debug("said once")
        assert capsys.readouterr().err == "DEBUG edge.test: said once\n"
    finally:
        for handler in added:
            root.removeHandler(handler)
        root.removeHandler(other)
        set_levels(logging.WARNING, log_mqtt=False)
        logging._srcfile = srcfile
