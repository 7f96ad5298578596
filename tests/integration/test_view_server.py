"""The view's HTTP server on a real SQLite journal: bounded event streams, a state per commit
burst, and a close that ends open streams."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from edge.observe.journal import JournalReader
from edge.observe.live import DaemonLive, StationLive, WriterLive
from edge.observe.metrics import EdgeCollector, Metrics
from edge.observe.server import ViewServer
from edge.observe.signal import CommitSignal, ScanTimings
from edge.observe.view import OperationsView
from edge.runtime.clock import SystemClock
from tests.broker import poll
from tests.shop_floor import SCRAP, SHIP, ShopFloor
from tests.station_view import get

LIVE = DaemonLive(
    stations=(StationLive(SHIP, "ship"), StationLive(SCRAP, "scrap")),
    scanners=(),
    queue=0,
    broker=None,
    writer=WriterLive(alive=True, storage_ok=True, last_error="", unstored=0, waiting=0),
)


class Stream:
    """One page's event stream, read as its raw HTTP response."""

    def __init__(self, port: int, station: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.sendall(f"GET /events?station={station} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        self.buffer = b""

    def status(self) -> int:
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        return int(self.buffer.split(b" ", 2)[1])

    def next_state(self) -> dict[str, object]:
        while True:
            for line in self.buffer.split(b"\n"):
                if line.startswith(b"data: "):
                    self.buffer = self.buffer[self.buffer.index(line) + len(line) :]
                    return json.loads(line[6:])  # type: ignore[no-any-return]
            chunk = self.sock.recv(65536)
            assert chunk, "the stream ended"
            self.buffer += chunk

    def ended(self) -> bool:
        try:
            while chunk := self.sock.recv(65536):
                self.buffer += chunk
        except TimeoutError:
            return False
        return True


def test_streams_are_bounded_follow_commits_and_end_at_close(floor: ShopFloor) -> None:
    clock = SystemClock()
    signal = CommitSignal()
    timings = ScanTimings(signal, clock.monotonic)
    journal = JournalReader(Path(floor.workdir) / "edge.db", [SHIP, SCRAP])
    view = OperationsView(lambda: LIVE, journal, timings, database=Path(floor.workdir) / "edge.db",
                          min_free_mb=lambda: 0, moment=clock.moment, sound=False)  # fmt: skip
    server = ViewServer(view, Metrics(EdgeCollector(lambda: LIVE, journal, timings)), signal,
                        host="127.0.0.1", port=0, max_clients=1)  # fmt: skip
    server.start()
    port = server.address[1]
    try:
        first = Stream(port, SHIP)
        assert first.status() == 200
        assert first.next_state()["latest"] is None
        second = Stream(port, SHIP)
        assert second.status() == 503  # max_clients = 1

        floor.scan(SHIP, "NOPE")
        signal.notify()  # what the writer does after its commit
        state = first.next_state()
        assert state["latest"]["words"] == "unknown part NOPE"  # type: ignore[index]
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")

        first.sock.close()  # the page goes away: its place is free again

        def reopened() -> Stream | None:
            stream = Stream(port, SCRAP)
            if stream.status() == 200:
                return stream
            stream.sock.close()
            return None

        again = poll(reopened, "a stream to take the freed place")
        assert again.next_state()["station"] == SCRAP
    finally:
        server.close()
        journal.close()
    again.sock.settimeout(5)
    assert again.ended()  # the close ended the open stream
