"""The operations view of one running daemon, wired: station display, metrics, health, status.

:class:`RunningView` is built by the daemon before its writer starts (the
writer's ``on_stored`` is :meth:`ScanTimings.stored`) and started once the
scanners are; it owns the view's threads (the HTTP server when
``[display] listen`` is set, the status file's ticker always) and stops them
at the end of the daemon's shutdown.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Final

from edge import __version__
from edge.config.addresses import split_listen
from edge.domain.timestamps import rfc3339
from edge.observe.journal import JournalReader
from edge.observe.live import BrokerLive, DaemonLive, ScannerLive, StationLive, WriterLive
from edge.observe.signal import CommitSignal, ScanTimings
from edge.observe.status_file import StatusFile
from edge.observe.view import OperationsView
from edge.runtime.clock import SystemClock

if TYPE_CHECKING:
    from edge.observe.server import ViewServer
    from edge.runtime.daemon import Daemon

log = logging.getLogger(__name__)

STATUS_EVERY_S: Final = 1.0


def daemon_live(daemon: Daemon) -> DaemonLive:
    """What the daemon's threads know now; read without a lock (each value is one read)."""
    config = daemon.config
    scanners = tuple(
        ScannerLive(scanner.id, scanner.station, running.state, running.detail)
        if (running := daemon.scanners.get(scanner.id)) is not None
        else ScannerLive(scanner.id, scanner.station, "stopped", "")
        for scanner in config.scanners
    )
    broker = None
    if daemon.relay is not None:
        state = daemon.relay.state()
        broker = BrokerLive(state.connected, state.line(), state.pending, state.set_aside)
    writer = daemon.writer
    if writer is None:
        writer_live = WriterLive(False, True, "", 0, 0)
    else:
        stats = writer.stats
        writer_live = WriterLive(daemon.supervisor.fatal is None, stats.storage_ok,
                                 stats.last_error, stats.unstored, stats.waiting)  # fmt: skip
    return DaemonLive(
        stations=tuple(StationLive(s.id, s.mode.value) for s in config.stations),
        scanners=scanners,
        queue=daemon.reads.qsize(),
        broker=broker,
        writer=writer_live,
    )


class RunningView:
    def __init__(self, daemon: Daemon, clock: SystemClock | None = None) -> None:
        config = daemon.config
        clock = clock or SystemClock()
        self.config = config
        self.clock = clock
        self.signal = CommitSignal()
        self.timings = ScanTimings(self.signal, clock.monotonic)
        self.journal = JournalReader(config.database.path, [s.id for s in config.stations])
        self.view = OperationsView(
            lambda: daemon_live(daemon),
            self.journal,
            self.timings,
            database=config.database.path,
            min_free_mb=lambda: daemon.config.database.min_free_mb,
            moment=clock.moment,
            sound=config.display.sound,
        )
        self.server: ViewServer | None = None
        self.status_file = StatusFile(config.database.path)
        self.started_at = rfc3339(clock.now())
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        display = self.config.display
        if display.listen is not None:
            # Imported only to serve: prometheus_client and http.server are 1 MB of the budget.
            from edge.observe.metrics import EdgeCollector, Metrics  # noqa: PLC0415
            from edge.observe.server import ViewServer  # noqa: PLC0415

            host, port = split_listen(display.listen)
            metrics = Metrics(EdgeCollector(self.view.live, self.journal, self.timings))
            try:
                self.server = ViewServer(self.view, metrics, self.signal, host=host, port=port,
                                         max_clients=display.max_clients)  # fmt: skip
            except OSError as error:
                # The line goes on scanning: the display is not worth a stopped station.
                log.error("station display not served: cannot listen on %s: %s",
                          display.listen, error.strerror or error)  # fmt: skip
            else:
                self.server.start()
        self._ticker = threading.Thread(target=self._tick, name="status-file", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.close()
        if self._ticker is not None:
            self._ticker.join(2)
        self.status_file.remove()
        self.journal.close()

    def _tick(self) -> None:
        while True:
            try:
                self.status_file.write(self._status())
            except Exception:  # the status must never stop the daemon; the log says why
                log.exception("status file %s not written", self.status_file.path)
            if self._stop.wait(STATUS_EVERY_S):
                return

    def _status(self) -> dict[str, Any]:
        config = self.config
        display = None
        if self.server is not None:
            host, port = self.server.address
            display = f"http://{host}:{port}/"
        return {
            "version": __version__,
            "site": config.site.id,
            "node": config.site.node,
            "config": str(config.source),
            "database": str(config.database.path),
            "started_at": self.started_at,
            "written_at": rfc3339(self.clock.now()),
            "display": display,
            **self.view.status(),
        }
