"""Station display: from a scan's commit to its state in an open page's event stream.

`edge run` with the three-level benchmark product, one serial scanner on a pty
and ``[display] listen``; PAGES pages hold the PACK-1 stream open (read here
as a browser's EventSource reads it: ``data:`` lines). An operator types a
serialized label and waits for its good-read byte (written after the commit);
the time from that byte to the first event naming the scan is the display's
latency (SPEC §14: within 500 ms of the commit). Then a burst: 20 labels typed
at once, to see that one state per burst reaches the pages.

    .venv/bin/python bench/display_latency.py [--scans 100] [--dir DIR] [--keep]
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import time

from common import (
    arguments,
    free_port,
    import_catalog,
    percentile,
    print_machine,
    scratch,
    serial_code,
    service_for,
    table,
    write_three_level_catalog,
)
from rig import Scanner, revision
from scale import CEILING_S, start_daemon, write_config

PAGES = 4
GOAL_MS = 500


class Page:
    """One open station page: the event stream, and when each scan id first arrived."""

    def __init__(self, port: int) -> None:
        self.seen: dict[int, float] = {}
        self.events = 0
        self.lock = threading.Lock()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(b"GET /events?station=PACK-1 HTTP/1.1\r\nHost: x\r\n\r\n")
        threading.Thread(target=self.read, daemon=True).start()

    def read(self) -> None:
        buffer = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            now = time.perf_counter()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"data: "):
                    latest = json.loads(line[6:])["latest"]
                    with self.lock:
                        self.events += 1
                        if latest is not None:
                            self.seen.setdefault(latest["scan_id"], now)

    def arrived(self, scan_id: int) -> float | None:
        with self.lock:
            return self.seen.get(scan_id)


def main() -> None:
    args = arguments(__doc__.splitlines()[0], [
        ("--scans", {"type": int, "default": 100, "help": "scans typed one at a time"}),
    ])  # fmt: skip
    with scratch(args) as directory:
        print_machine("display latency: commit -> event stream", directory)
        print(f"product     {revision()}\n")
        scanner = Scanner.open(0)
        config = write_config(directory, [scanner])
        port = free_port()
        with config.open("a") as file:
            file.write(f'\n[display]\nlisten = "127.0.0.1:{port}"\n')
        service = service_for(directory / "edge.db")
        import_catalog(service, write_three_level_catalog(directory))
        service.engine.dispose()
        process = start_daemon(config, directory / "daemon.log", 1, {})
        try:
            time.sleep(1.0)  # the server starts after the scanners: a measurement point
            pages = [Page(port) for _ in range(PAGES)]
            latencies: list[float] = []
            for index in range(args.scans):
                os.write(scanner.master, serial_code(index, "L").encode() + b"\r")
                ready, _, _ = select.select([scanner.master], [], [], CEILING_S)
                committed = time.perf_counter()
                if not ready:
                    raise SystemExit(f"scan {index} unanswered")
                os.read(scanner.master, 64)
                scan_id = index + 1
                deadline = committed + CEILING_S
                while any(page.arrived(scan_id) is None for page in pages):
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"scan {scan_id} never reached every page")
                    time.sleep(0.001)
                latencies += [page.arrived(scan_id) - committed for page in pages]  # type: ignore[operator]
            before = sum(page.events for page in pages)
            burst = 20
            for index in range(burst):
                os.write(scanner.master, serial_code(10_000 + index, "B").encode() + b"\r")
            last = args.scans + burst
            while any(page.arrived(last) is None for page in pages):
                time.sleep(0.005)
            events = (sum(page.events for page in pages) - before) / PAGES
        finally:
            process.send_signal(signal.SIGTERM)
            began = time.perf_counter()
            status = process.wait(60)
            stop_s = time.perf_counter() - began
            scanner.close()
        table(["commit -> event (ms)", "p50", "p95", "max"], [[
            f"{len(latencies)} events ({PAGES} pages x {args.scans} scans)",
            f"{percentile(latencies, 0.5) * 1000:.1f}",
            f"{percentile(latencies, 0.95) * 1000:.1f}",
            f"{max(latencies) * 1000:.1f}",
        ]])  # fmt: skip
        print(f"\na burst of {burst} scans reached each page in {events:.1f} events")
        print(f"SIGTERM with {PAGES} pages open: exit {status} in {stop_s:.2f} s")
        verdict = "pass" if max(latencies) * 1000 < GOAL_MS else "MISS"
        print(f"\nVerdict: every event within {GOAL_MS} ms of its commit: {verdict}")


if __name__ == "__main__":
    main()
