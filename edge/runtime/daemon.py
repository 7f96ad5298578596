"""``edge run``: scanners -> queue -> one writer -> SQLite, and the outbox relay to MQTT.

Threads, not asyncio: SQLite wants exactly one writer, paho runs its own
network loop, and the evdev reads are blocking calls with a thread per
keyboard-wedge scanner. Serial and network scanners, a thousand as easily as
one, share one ``epoll`` loop on one thread (:mod:`edge.scanpath.readers`).

Shutdown order on SIGTERM: readers stop first, all at once (no new reads), the writer
drains the queue and commits what was read while the commands subscriber (when
``[commands] enabled``) finishes the command in hand, then the relay publishes
``offline`` and disconnects. SIGHUP reloads the config if it validates.

Before anything opens, the open-file limit is raised and checked against the
config (:mod:`edge.runtime.limits`); a limit too low ends the start with exit
status 2. A reader or the relay that dies is restarted with back-off; a dead
writer stops the daemon with exit status 1 (:mod:`edge.runtime.supervision`).
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Final, Protocol

from edge import __version__
from edge.config import Config, ConfigError, load_config
from edge.publish.status import RelayState
from edge.runtime import limits
from edge.runtime.bootstrap import (
    build_command_subscriber,
    build_relay,
    build_service,
    station_from_config,
)
from edge.runtime.sdnotify import Notifier, watchdog_interval
from edge.runtime.supervision import Supervisor
from edge.runtime.view import RunningView
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.readers import ReaderFactory, RunningScanner, ScannerReaders, build_reader
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from edge.service import InventoryService
from edge.store.restore import DatabaseHold
from edge.store.revisions import SchemaError, StorageError
from hardware.reads import RawRead

log = logging.getLogger(__name__)

QUEUE_SIZE = 20_000
TICK_S = 2.0
EXIT_CANNOT_START: Final = 2  # the open-file limit cannot hold the configured daemon
EXIT_THREAD_DIED: Final = 1  # the writer died: the service manager restarts the daemon
# Every reader is told to stop at once, then all are waited for this long in
# all: well inside the 5 s a clean stop may take.
READERS_HALT_S: Final = 2.0


class Relay(Protocol):
    def run(self, stop: threading.Event) -> None: ...

    def wake(self) -> None: ...

    def status_line(self) -> str: ...

    def state(self) -> RelayState: ...

    def request_republish(self) -> None: ...


class Commands(Protocol):
    """The ``[commands]`` subscriber (edge.commands.subscriber)."""

    def run(self, stop: threading.Event) -> None: ...

    def status_line(self) -> str: ...


RelayFactory = Callable[[Config, InventoryService, int], Relay]
CommandsFactory = Callable[[Config, InventoryService, Relay | None], Commands]
ServiceFactory = Callable[[Config], InventoryService]


def upgrading_service(config: Config) -> InventoryService:
    """The service `edge run` uses: the one command besides `edge migrate` that upgrades.

    The upgrade itself (the ``.pre-`` backup, then the migrations) runs as
    `edge migrate` in a child process: alembic stays resident once imported,
    some 8 MB, and the daemon must stay under 80 MB for years, not only until
    its next restart. A database already at the head never starts the child.
    """
    if config.database.path.exists():
        try:
            return build_service(config)
        except SchemaError:
            pass  # older, newer or foreign: `edge migrate` upgrades or says why not
    _migrate_in_child(config)
    return build_service(config)


def _migrate_in_child(config: Config) -> None:
    command = [sys.executable, "-m", "edge", "--config", str(config.source), "migrate"]
    if log.isEnabledFor(logging.DEBUG):
        command.append("-v")
    # The child's stderr is the daemon's: its log lines and any refusal reach the journal.
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise StorageError(
            f"the schema upgrade (edge migrate) failed with status {result.returncode}; "
            "its message is above"
        )
    log.info("%s", result.stdout.strip())


def default_relay(config: Config, service: InventoryService, boot: int) -> Relay:
    return build_relay(config, service.engine, boot)


def default_commands(config: Config, service: InventoryService, relay: Relay | None) -> Commands:
    return build_command_subscriber(
        config,
        service,
        on_committed=relay.wake if relay is not None else lambda: None,
        republish=relay.request_republish if relay is not None else lambda: None,
    )


class Daemon:
    def __init__(
        self,
        config_path: Path,
        *,
        relay_factory: RelayFactory | None = default_relay,
        service_factory: ServiceFactory = upgrading_service,
        reader_factory: ReaderFactory = build_reader,
        commands_factory: CommandsFactory = default_commands,
        stop: threading.Event | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.relay_factory = relay_factory
        self.service_factory = service_factory
        self.reader_factory = reader_factory
        self.commands_factory = commands_factory
        self.stop = stop or threading.Event()
        self.supervisor = Supervisor(on_fatal=self.stop.set)
        self.reload_requested = threading.Event()
        self.reads: ReadQueue[QueuedRead] = ReadQueue(QUEUE_SIZE)
        self.readers = ScannerReaders(self.supervisor, reader_factory, self._on_read,
                                      self._on_state)  # fmt: skip
        self.notifier = Notifier()
        self.ready = threading.Event()
        self._queue_full_logged = False
        self.relay: Relay | None = None
        self.commands: Commands | None = None
        self.writer: ScanWriter | None = None
        self.view: RunningView | None = None

    # --- lifecycle ---------------------------------------------------------------
    def run(self) -> int:
        config = self.config
        if not self._limits_hold(config):
            return EXIT_CANNOT_START
        # Before anything starts: a SIGTERM during start-up (a scanner may already be
        # connected) stops the daemon in order instead of killing it mid-way.
        self._install_signals()
        # Held until exit: `edge restore` is refused while it is (edge/store/restore.py).
        hold = DatabaseHold(config.database.path)
        service = self.service_factory(config)
        boot = service.transact(lambda _inventory, uow: uow.raise_boot())
        log.info("edge %s starting: site %s node %s boot %d", __version__,
                 config.site.id, config.site.node, boot)  # fmt: skip
        relay_stop = threading.Event()
        if self.relay_factory is not None:
            self.relay = self.relay_factory(config, service, boot)
        self.view = RunningView(self)  # the display, /metrics, /healthz, the status file
        self.writer = ScanWriter(
            service,
            self.reads,
            self._routes(config),
            database_path=config.database.path,
            min_free_mb=config.database.min_free_mb,
            on_committed=self.relay.wake if self.relay is not None else lambda: None,
            on_stored=self.view.timings.stored,
        )
        writer_stop = threading.Event()
        writer_thread = self.supervisor.start_fatal("writer", self.writer.run, writer_stop)
        relay_thread = None
        if self.relay is not None:
            relay_thread = self.supervisor.start_restarting("relay", self.relay.run, relay_stop)
        # Commands are applied on the subscriber's thread, each in a short transaction of
        # its own, taking turns with the writer's; off unless [commands] enabled.
        commands_stop = threading.Event()
        commands_thread = None
        if config.commands.enabled and self.relay_factory is not None:
            self.commands = self.commands_factory(config, service, self.relay)
            commands_thread = self.supervisor.start_restarting(
                "commands", self.commands.run, commands_stop
            )
        for scanner in config.scanners:
            self.readers.start(scanner)
        self.view.start()
        self.notifier.ready(self.status_line())
        self.ready.set()
        log.info("ready: %d scanners on %d stations", len(config.scanners), len(config.stations))
        try:
            self._supervise()
        finally:
            self.notifier.stopping()
            log.info("stopping: readers first, then the writer drains the queue")
            late = self.readers.halt_all(READERS_HALT_S)
            if late:
                log.warning("not stopped within %g s, left behind: %s",
                            READERS_HALT_S, ", ".join(late))  # fmt: skip
            commands_stop.set()  # at once: it finishes the command in hand, in parallel
            writer_stop.set()
            writer_thread.join()
            if commands_thread is not None:
                commands_thread.join(15)
            relay_stop.set()
            if relay_thread is not None:
                relay_thread.join(15)
            self.view.close()
            service.engine.dispose()
            hold.release()
            self.notifier.close()
            log.info("stopped")
        return self._exit_status()

    # --- limits and supervision ---------------------------------------------------------
    def _limits_hold(self, config: Config) -> bool:
        """Raise the open-file limit, refusing in one line when it is still too low; then let
        the threads to come share one malloc arena."""
        problem = limits.open_file_problem(config, broker=self.relay_factory is not None)
        if problem is not None:
            log.critical("cannot start: %s", problem)
            return False
        limits.limit_malloc_arenas()  # before any thread starts
        return True

    def _exit_status(self) -> int:
        """0 after a requested stop; non-zero when the writer died (see supervision)."""
        fatal = self.supervisor.fatal
        if fatal is None:
            return 0
        # The dead writer committed none of these and answered none of them, so
        # the operators saw no good-read; the log is their only record.
        while True:
            try:
                item = self.reads.get_nowait()
            except queue.Empty:
                break
            log.critical("scan NOT STORED (%s): scanner %s, data %r",
                         fatal, item.scanner_id, item.read.data)  # fmt: skip
        log.critical("exiting with status %d: %s", EXIT_THREAD_DIED, fatal)
        return EXIT_THREAD_DIED

    def _supervise(self) -> None:
        interval = watchdog_interval()
        tick = min(TICK_S, interval) if interval else TICK_S
        last_status = ""
        while not self.stop.wait(tick):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.reload()
            if interval:
                self.notifier.watchdog()
            status = self.status_line()
            if status != last_status:
                self.notifier.status(status)
                last_status = status

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # embedded (the demo, tests): the owner stops us through self.stop

        def on_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.stop.set()

        def on_hup(_signum: int, _frame: FrameType | None) -> None:
            self.reload_requested.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    # --- scanners ----------------------------------------------------------------
    def _on_read(self, scanner_id: str, read: RawRead) -> None:
        # Back-pressure when full: the reader waits, the scanner's own buffer holds the rest.
        if self.reads.put(QueuedRead(scanner_id, read), self._queue_full):
            self._queue_full_logged = False

    def _queue_full(self) -> None:
        if not self._queue_full_logged:
            log.error("scan queue full (%d): readers wait for the writer", QUEUE_SIZE)
            self._queue_full_logged = True

    def _on_state(self, scanner_id: str, state: str, detail: str) -> None:
        running = self.scanners.get(scanner_id)
        if running is not None:
            running.state, running.detail = state, detail
        level = logging.INFO if state == "connected" else logging.WARNING
        log.log(level, "scanner %s %s: %s", scanner_id, state, detail)

    @property
    def scanners(self) -> dict[str, RunningScanner]:
        """The scanners being read, by id."""
        return self.readers.running

    def _routes(self, config: Config) -> dict[str, ScannerRoute]:
        routes: dict[str, ScannerRoute] = {}
        for scanner in config.scanners:
            routes[scanner.id] = ScannerRoute(
                station=scanner.station,
                prefix=scanner.prefix,
                suffix=scanner.scan_suffix,
                debounce_s=scanner.debounce_ms / 1000,
                feedback=self._feedback_for(scanner.id),
                answer_duplicates=scanner.feedback_duplicate == "good",
            )
        return routes

    def _feedback_for(self, scanner_id: str) -> Callable[[bool], None]:
        def feedback(good: bool) -> None:
            running = self.scanners.get(scanner_id)
            if running is not None:
                running.reader.feedback(good)

        return feedback

    # --- reload ------------------------------------------------------------------
    def reload(self) -> None:
        """Apply a changed config if it validates; keep the running one otherwise."""
        try:
            new = load_config(self.config_path)
        except ConfigError as error:
            log.error("config reload refused, keeping the running config: %s", error)
            return
        old = self.config
        if (new.site, new.database.path) != (old.site, old.database.path):
            log.warning("site, node and database.path change only on restart; kept")
        if new.mqtt != old.mqtt and self.relay is not None:
            log.warning("mqtt settings change only on restart; the relay keeps the running ones")
        if new.display != old.display:
            log.warning("[display] settings change only on restart; the running ones are kept")
        if new.commands != old.commands:
            log.warning("[commands] settings change only on restart; the running ones are kept")
        if new.inventory != old.inventory:
            # The scan writer's and the command subscriber's services would disagree.
            log.warning("[inventory] settings change only on restart; the running ones are kept")
        if self.writer is not None:
            self.writer.service.update_stations([station_from_config(s) for s in new.stations])
            self.writer.space.change_floor(new.database.min_free_mb)
        old_scanners = {scanner.id: scanner for scanner in old.scanners}
        new_scanners = {scanner.id: scanner for scanner in new.scanners}
        changed = [scanner_id for scanner_id, scanner in old_scanners.items()
                   if new_scanners.get(scanner_id) != scanner]  # fmt: skip
        # Waited for before the new ones start: a changed scanner on the same
        # device must find it closed (and unlocked) by its old reader.
        late = self.readers.halt(changed, READERS_HALT_S)
        if late:
            log.warning("reload: readers not stopped within %g s: %s",
                        READERS_HALT_S, ", ".join(late))  # fmt: skip
        self.config = new
        if self.writer is not None:
            self.writer.update_routes(self._routes(new))
        for scanner_id, scanner in new_scanners.items():
            if scanner_id not in self.scanners:
                self.readers.start(scanner)
        log.info("config reloaded: %d stations, %d scanners", len(new.stations), len(new.scanners))

    # --- status ------------------------------------------------------------------
    def status_line(self) -> str:
        connected = sum(1 for s in self.scanners.values() if s.state == "connected")
        parts = [f"scanners {connected}/{len(self.config.scanners)}"]
        if self.writer is not None:
            stats = self.writer.stats
            parts.append(
                f"scans {stats.accepted} ok {stats.rejected} rejected {stats.duplicates} dup"
            )
            if not stats.storage_ok:
                parts.append(f"DATABASE UNWRITABLE ({stats.unstored} held)")
        parts.append(f"queue {self.reads.qsize()}")
        if self.relay is not None:
            parts.append(self.relay.status_line())
        if self.commands is not None:
            parts.append(self.commands.status_line())
        parts.extend(f"{name} CRASHED ({why})" for name, why in
                     self.supervisor.restarting().items())  # fmt: skip
        return "; ".join(parts)
