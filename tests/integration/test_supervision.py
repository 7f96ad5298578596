"""A reader, the writer or the relay dying from an unexpected error, inside a real daemon.

The daemon runs in a thread of the test (so a failure can be put into one of
its parts) with a real SQLite file, a real pty scanner and, for the relay, a
real Mosquitto. Failures go in through the real interfaces: a framer (the
real :class:`Framer` with a bug) in a reader built by ``build_reader``, an
:class:`InventoryService` whose ``process_scans`` raises something that is no
storage error, an :class:`OutboxRelay` whose ``run`` raises.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from edge.config import Config, ScannerConfig
from edge.domain.scanning import ScanOutcome
from edge.publish.relay import OutboxRelay
from edge.runtime.bootstrap import build_relay, build_service
from edge.runtime.daemon import EXIT_THREAD_DIED, Daemon, Relay
from edge.runtime.supervision import RestartPolicy, Supervisor, restart_with_backoff
from edge.scanpath.readers import ScannerReader, build_reader
from edge.service import Committed, InventoryService, PendingScan
from hardware.reads import RawRead, ReadCallback, StateCallback
from hardware.serial.framing import Framer
from hardware.serial.reader import SerialScanner
from tests.broker import Mosquitto, Subscriber, poll
from tests.integration.conftest import load_demo_catalog
from tests.scanner_pty import CEILING_S, Pty, free_port

SHIP = "(01)09506000134352(21)"  # FG-PUMP-100 in the demo catalog
BOOM = "BOOM"  # the code each injected failure trips on
ACK = 0x06


# --------------------------------------------------------------------------- a line


@pytest.fixture
def pty() -> Iterator[Pty]:
    scanner = Pty.open()
    yield scanner
    scanner.close()


def _line(directory: Path, pty: Pty, broker: Mosquitto | None = None) -> Path:
    """A config with one ship station read by the pty, and the demo catalog in its database."""
    host, port = (broker.host, broker.port) if broker else ("127.0.0.1", free_port())
    path = directory / "edge.toml"
    path.write_text(
        '[site]\nid = "plant-1"\nnode = "supervised"\n\n[database]\npath = "edge.db"\n\n'
        f'[mqtt]\nhost = "{host}"\nport = {port}\nreconnect_max_s = 2\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n\n'
        f'[[scanner]]\nid = "pack"\nstation = "PACK-1"\nkind = "serial"\nurl = "{pty.path}"\n'
        'terminator = "cr"\nfeedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
    )
    load_demo_catalog(path)
    return path


def _journal(config_path: Path) -> list[str]:
    with sqlite3.connect(config_path.parent / "edge.db") as db:
        return [code for (code,) in db.execute("SELECT code FROM scans ORDER BY id")]


def _last_seq(config_path: Path) -> int:
    with sqlite3.connect(config_path.parent / "edge.db") as db:
        return int(db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])


class InThread:
    """``Daemon.run`` on a thread of the test; ``status`` is what ``edge run`` would exit with."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, name="daemon")
        self.thread.start()
        poll(lambda: daemon.ready.is_set() or not self.thread.is_alive(), "the daemon to start")

    def _run(self) -> None:
        self.status = self.daemon.run()

    def stop(self) -> int | None:
        self.daemon.stop.set()
        self.thread.join(CEILING_S * 2)
        assert not self.thread.is_alive(), "the daemon did not stop"
        return self.status


@pytest.fixture
def daemons() -> Iterator[list[InThread]]:
    running: list[InThread] = []
    yield running
    for run in running:
        if run.thread.is_alive():
            run.stop()


def _connected(daemon: Daemon, scanner_id: str = "pack") -> bool:
    running = daemon.scanners.get(scanner_id)
    return running is not None and running.state == "connected"


def _crash_logged(caplog: pytest.LogCaptureFixture, name: str, message: str) -> bool:
    """A record saying ``name`` died, carrying the traceback of ``message``."""
    return any(
        record.getMessage() == f"{name} died from an unexpected error"
        and record.exc_info is not None
        and str(record.exc_info[1]) == message
        and record.exc_text is not None
        and "Traceback" in record.exc_text
        for record in caplog.records
    )


# --------------------------------------------------------------------------- a reader


class BuggyFramer(Framer):
    """The real framer, with a bug that raises on the code BOOM (outside any port error)."""

    def feed(self, data: bytes, now: float, *, late: bool = False) -> list[RawRead]:
        reads = super().feed(data, now, late=late)
        if any(read.data == BOOM.encode() for read in reads):
            raise RuntimeError("framing bug")
        return reads


def test_a_crashed_reader_is_restarted_and_reads_again(
    tmp_path: Path, pty: Pty, daemons: list[InThread], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config_path = _line(tmp_path, pty)
    builds: list[SerialScanner] = []
    state_while_down: list[tuple[str, str]] = []
    daemon: Daemon | None = None

    def reader_factory(
        config: ScannerConfig, on_read: ReadCallback, on_state: StateCallback
    ) -> ScannerReader:
        reader = build_reader(config, on_read, on_state)
        assert isinstance(reader, SerialScanner)
        if not builds:  # the first reader has the bug; the restarted one is as built
            reader._framer = BuggyFramer(config.terminator, idle_ms=config.idle_ms)
        elif daemon is not None:
            running = daemon.scanners[config.id]
            state_while_down.append((running.state, running.detail))
        builds.append(reader)
        return reader

    daemon = Daemon(config_path, relay_factory=None, reader_factory=reader_factory)
    run = InThread(daemon)
    daemons.append(run)
    poll(lambda: _connected(daemon), "the scanner to connect")

    pty.type(f"{SHIP}BEFORE")
    pty.listen(1)
    pty.type(BOOM)  # the reader thread dies here, with the (locked) pty open
    poll(lambda: _crash_logged(caplog, "scanner pack reader", "framing bug"), "the traceback")
    # The fresh reader can only connect if the dead one released its port's lock.
    poll(lambda: len(builds) == 2 and _connected(daemon), "the reader to be restarted")
    pty.type(f"{SHIP}AFTER")
    pty.listen(2)

    assert run.stop() == 0
    assert _journal(config_path) == [f"{SHIP}BEFORE", f"{SHIP}AFTER"]
    assert bytes(pty.heard) == bytes([ACK, ACK])
    assert state_while_down == [
        ("error", "reader crashed: RuntimeError: framing bug; restart in 1 s")
    ]
    assert daemon.scanners["pack"].restarts == 1


# --------------------------------------------------------------------------- the writer


class LedgerBugService(InventoryService):
    """The real service, failing on the code BOOM with an error that is not a storage error."""

    def process_scans(
        self, pending: Sequence[PendingScan], committed: Committed | None = None
    ) -> list[ScanOutcome]:
        if any(scan.scan.data == BOOM.encode() for scan in pending):
            raise RuntimeError("ledger bug")
        return super().process_scans(pending, committed)


def _service_with_bug(config: Config) -> InventoryService:
    real = build_service(config)
    return LedgerBugService(
        real.engine, real.identity, real.topic_prefix, list(real.stations.values())
    )


def test_a_dead_writer_stops_the_daemon_with_a_failure_status(
    tmp_path: Path, pty: Pty, daemons: list[InThread], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config_path = _line(tmp_path, pty)
    daemon = Daemon(config_path, relay_factory=None, service_factory=_service_with_bug)
    run = InThread(daemon)
    daemons.append(run)
    poll(lambda: _connected(daemon), "the scanner to connect")

    pty.type(f"{SHIP}STORED")
    pty.listen(1)
    pty.type(BOOM)
    run.thread.join(CEILING_S)
    assert not run.thread.is_alive(), "the daemon kept running with a dead writer"

    assert run.status == EXIT_THREAD_DIED != 0
    assert _crash_logged(caplog, "writer", "ledger bug")
    assert any(
        record.levelno == logging.CRITICAL and "exiting with status 1" in record.getMessage()
        for record in caplog.records
    )
    assert _journal(config_path) == [f"{SHIP}STORED"]
    assert bytes(pty.heard) == bytes([ACK])  # BOOM was never answered as stored


# --------------------------------------------------------------------------- the relay


class RelayDyingOnce(OutboxRelay):
    """The real relay, whose first run dies from an unexpected error."""

    runs = 0

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("relay bug")
        super().run(stop)


def _relay_dying_once(config: Config, service: InventoryService, boot: int) -> Relay:
    return build_relay(config, service.engine, boot, RelayDyingOnce)


@pytest.mark.broker
def test_a_dead_relay_is_restarted_and_delivers_the_outbox(
    tmp_path: Path,
    pty: Pty,
    daemons: list[InThread],
    make_broker: Callable[..., Mosquitto],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    broker = make_broker()
    config_path = _line(tmp_path, pty, broker)
    subscriber = Subscriber(broker, "backflush/plant-1/supervised/event/#").start()
    try:
        daemon = Daemon(config_path, relay_factory=_relay_dying_once)
        run = InThread(daemon)
        daemons.append(run)
        poll(lambda: _connected(daemon), "the scanner to connect")
        for index in range(3):
            pty.type(f"{SHIP}R{index}")
            pty.listen(index + 1)

        last = _last_seq(config_path)
        assert last >= 3
        subscriber.wait_for_seqs(last)
        assert run.stop() == 0
    finally:
        subscriber.close()
    assert _crash_logged(caplog, "relay", "relay bug")
    assert isinstance(daemon.relay, RelayDyingOnce)
    assert daemon.relay.runs == 2


# --------------------------------------------------------------------------- the policies


def test_restarts_back_off_and_a_stable_run_resets_them() -> None:
    """Delays double up to the ceiling; a run longer than stable_s starts again at first_s."""
    stop = threading.Event()
    now = [0.0]  # the clock the policy reads; each run of the target advances it
    runs = iter([1.0, 1.0, 1.0, 1.0, 61.0, 1.0])  # how long each run lasted before dying
    delays: list[float] = []

    def target(_stop: threading.Event) -> None:
        lasted = next(runs, None)
        if lasted is None:
            stop.set()  # the last run: stopped, not dead
            return
        now[0] += lasted
        raise ValueError("again")

    def on_crash(_why: str, delay: float) -> None:
        delays.append(delay)

    # Milliseconds of real waiting; the stable time is measured on the test's clock.
    policy = RestartPolicy(first_s=0.001, max_s=0.004, stable_s=60.0)
    restarts = restart_with_backoff(
        "test", target, stop, policy=policy, on_crash=on_crash, clock=lambda: now[0]
    )
    assert delays == [0.001, 0.002, 0.004, 0.004, 0.001, 0.002]
    assert restarts == 6


def test_the_supervisor_shows_a_thread_waiting_to_restart_and_a_fatal_death() -> None:
    fatal = threading.Event()
    supervisor = Supervisor(on_fatal=fatal.set)
    stop = threading.Event()

    def dies(_stop: threading.Event) -> None:
        raise OSError("gone")

    waiting = supervisor.start_restarting(
        "helper", dies, stop, policy=RestartPolicy(first_s=CEILING_S * 3, max_s=CEILING_S * 3)
    )
    poll(lambda: "helper" in supervisor.restarting(), "the helper to wait for its restart")
    assert supervisor.restarting()["helper"] == f"OSError: gone; restart in {CEILING_S * 3:g} s"
    assert supervisor.fatal is None

    ended = supervisor.start_fatal("core", lambda _stop: None, threading.Event())
    ended.join(CEILING_S)
    assert fatal.is_set()
    assert supervisor.fatal == "core died: ended without being stopped"
    stop.set()
    waiting.join(CEILING_S)
    assert not waiting.is_alive()
