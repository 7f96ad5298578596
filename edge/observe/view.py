"""What the pages, ``/healthz`` and the status file show: built from live state and the journal.

Every method runs on a thread of the view (an HTTP request, the status file's
ticker), never on the scan path.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from edge.domain.ports import Moment
from edge.observe.journal import JournalReader, LowPart
from edge.observe.live import DaemonLive, LiveSource
from edge.observe.signal import ScanTimings
from edge.store.database import free_megabytes

# /healthz: a writer with reads waiting and no commit for this long is stuck.
STUCK_S: Final = 10.0
# A lock held elsewhere for longer than this is reported (scans wait unanswered).
LOCK_WAIT_S: Final = 30.0
# A station's low parts are read again after a commit, but not more often than this.
LOW_EVERY_S: Final = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reason: str


class OperationsView:
    def __init__(
        self,
        live: LiveSource,
        journal: JournalReader,
        timings: ScanTimings,
        *,
        database: Path,
        min_free_mb: Callable[[], float],
        moment: Callable[[], Moment],
        sound: bool,
    ) -> None:
        self.live = live
        self.journal = journal
        self.timings = timings
        self.database = database
        self.min_free_mb = min_free_mb
        self.moment = moment
        self.sound = sound
        self._low: dict[str, tuple[int, float, tuple[list[LowPart], int]]] = {}
        self._low_lock = threading.Lock()
        self._waiting_since: float | None = None

    # --- pages ----------------------------------------------------------------------
    def station_page(self, station_id: str) -> dict[str, Any] | None:
        """Everything one station's page shows; None for a station not configured."""
        live = self.live()
        station = live.station(station_id)
        if station is None:
            return None
        self.journal.refresh()
        scans = self.journal.station_scans(station_id)
        pending = self.journal.pending(station_id, station.mode, self.moment())
        low, low_count = self._low_parts(station_id)
        return {
            "station": station.id,
            "mode": station.mode,
            "latest": scans[0] if scans else None,
            "scans": scans,
            "pending": {key: _asdict(value) for key, value in pending.items()},
            "scanners": [_scanner(s) for s in live.scanners if s.station == station_id],
            "low": [dataclasses.asdict(part) for part in low],
            "low_count": low_count,
            **self._shared(live),
        }

    def overview(self) -> dict[str, Any]:
        live = self.live()
        self.journal.refresh()
        stations = []
        for station in live.stations:
            scans = self.journal.station_scans(station.id)
            stations.append({
                "station": station.id,
                "mode": station.mode,
                "latest": scans[0] if scans else None,
                "scanners": [_scanner(s) for s in live.scanners if s.station == station.id],
            })  # fmt: skip
        return {"stations": stations, **self._shared(live)}

    def _shared(self, live: DaemonLive) -> dict[str, Any]:
        broker = live.broker
        health = self.health(live)
        return {
            "broker": _asdict(broker),
            "health": dataclasses.asdict(health),
            "sound": self.sound,
        }

    def _low_parts(self, station_id: str) -> tuple[list[LowPart], int]:
        """Read again after a commit, at most every LOW_EVERY_S (a burst moves many parts)."""
        version, now = self.timings.signal.version, self.timings.monotonic()
        with self._low_lock:
            cached = self._low.get(station_id)
        if cached is not None and (cached[0] == version or now - cached[1] < LOW_EVERY_S):
            return cached[2]
        parts = self.journal.low_parts(station_id)
        with self._low_lock:
            self._low[station_id] = (version, now, parts)
        return parts

    # --- health ---------------------------------------------------------------------
    def health(self, live: DaemonLive | None = None) -> Health:
        """200 while the writer commits and the database is writable; else why not."""
        live = live or self.live()
        writer = live.writer
        if not writer.alive:
            return Health(False, "the scan writer has stopped")
        if not writer.storage_ok:
            return Health(False, f"the database cannot be written ({writer.last_error}); "
                                 f"{writer.unstored} scans held in memory")  # fmt: skip
        if not os.access(self.database, os.W_OK):
            return Health(False, f"the database file {self.database} is not writable")
        try:
            free = free_megabytes(self.database)
        except OSError as error:
            return Health(False, f"cannot see the database's disk: {error.strerror or error}")
        floor = self.min_free_mb()
        if free < floor:
            return Health(False, f"free disk space {free:.1f} MB is below database.min_free_mb "
                                 f"({floor:g}): scans are refused")  # fmt: skip
        now = self.timings.monotonic()
        if writer.waiting:
            if self._waiting_since is None:
                self._waiting_since = now
            if now - self._waiting_since > LOCK_WAIT_S:
                return Health(False, f"another process has held the write lock for "
                                     f"{now - self._waiting_since:.0f} s; "
                                     f"{writer.waiting} scans wait")  # fmt: skip
        else:
            self._waiting_since = None
        last = self.timings.last_commit
        if live.queue and now - last > STUCK_S:
            return Health(False, f"no commit for {now - last:.0f} s with {live.queue} reads "
                                 "waiting")  # fmt: skip
        return Health(True, "ok")

    # --- edge status ----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What ``edge status`` shows (the status file's body)."""
        live = self.live()
        self.journal.refresh()
        counts, last_at = self.journal.tally()
        outbox = self.journal.outbox()
        stations = []
        for station in live.stations:
            scans = self.journal.station_scans(station.id)
            totals = {status: sum(n for (st, s, _), n in counts.items()
                                  if st == station.id and s == status)
                      for status in ("accepted", "rejected", "duplicate")}  # fmt: skip
            stations.append({"station": station.id, "mode": station.mode,
                             "last_scan_at": last_at.get(station.id),
                             "last_scan": scans[0] if scans else None,
                             "scans": totals})  # fmt: skip
        broker = live.broker
        return {
            "scanners": [_scanner(s) for s in live.scanners],
            "stations": stations,
            "queue": live.queue,
            "backlog": _asdict(outbox),
            "broker": _asdict(broker),
            "writer": dataclasses.asdict(live.writer),
            "health": dataclasses.asdict(self.health(live)),
        }


def _scanner(scanner: Any) -> dict[str, Any]:
    return {"scanner": scanner.id, "station": scanner.station, "state": scanner.state,
            "connected": scanner.connected, "detail": scanner.detail}  # fmt: skip


def _asdict(value: Any) -> dict[str, Any] | None:
    return None if value is None else dataclasses.asdict(value)
