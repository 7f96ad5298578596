"""What the daemon's threads know right now, copied out for the view (no database read)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScannerLive:
    id: str
    station: str
    state: str  # starting | connected | disconnected | ... (the reader's word)
    detail: str

    @property
    def connected(self) -> bool:
        return self.state == "connected"


@dataclass(frozen=True, slots=True)
class BrokerLive:
    connected: bool
    line: str  # the relay's status line, as systemd shows it
    pending: int  # events not yet acknowledged
    set_aside: int


@dataclass(frozen=True, slots=True)
class WriterLive:
    alive: bool
    storage_ok: bool
    last_error: str
    unstored: int  # scans held in memory while the database cannot be written
    waiting: int  # scans kept out by a lock held elsewhere


@dataclass(frozen=True, slots=True)
class StationLive:
    id: str
    mode: str


@dataclass(frozen=True, slots=True)
class DaemonLive:
    stations: tuple[StationLive, ...]
    scanners: tuple[ScannerLive, ...]
    queue: int  # reads waiting for the writer
    broker: BrokerLive | None  # None: the daemon runs without a broker
    writer: WriterLive

    def station(self, station_id: str) -> StationLive | None:
        return next((s for s in self.stations if s.id == station_id), None)


LiveSource = Callable[[], DaemonLive]
