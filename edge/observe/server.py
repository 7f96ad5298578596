"""The view's HTTP server: station pages, their live events, ``/metrics`` and ``/healthz``.

The standard library's :class:`~http.server.ThreadingHTTPServer` on a daemon
thread of its own, a thread per request: a page holds one server-sent events
stream (a thread asleep on the commit signal), so open pages are bounded
(``display.max_clients``) and a request beyond them is answered 503. Nothing
here runs on, or waits for, the scan path.
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from edge.observe.metrics import Metrics
from edge.observe.pages import Key, PagePublisher
from edge.observe.signal import CommitSignal
from edge.observe.view import OperationsView

log = logging.getLogger(__name__)

# A page without news hears a comment line this often: it keeps idle proxies open.
KEEPALIVE_S: Final = 15.0
# How often a quiet stream looks whether its page went away (its place is then free).
CHECK_S: Final = 1.0
_ASSETS: Final = {
    "style.css": "text/css; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
}
_HTML: Final = "text/html; charset=utf-8"
# The two pages: each a body in the one shell (head, the lost-connection bar, the script).
_PAGES: Final = {"station": "Station", "overview": "Stations"}
_STATION_PATH = re.compile(r"/station/([^/]+)")
_METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _load_assets() -> dict[str, bytes]:
    folder = resources.files("edge.observe") / "assets"
    assets = {name: (folder / name).read_bytes() for name in _ASSETS}
    shell = (folder / "shell.html").read_text(encoding="utf-8")
    for page, title in _PAGES.items():
        body = (folder / f"{page}.html").read_text(encoding="utf-8")
        assets[page] = shell.format(title=title, page=page, body=body).encode()
    return assets


class ViewServer:
    """Serves the view on ``host:port`` until :meth:`close`."""

    def __init__(
        self,
        view: OperationsView,
        metrics: Metrics,
        signal: CommitSignal,
        *,
        host: str,
        port: int,
        max_clients: int,
    ) -> None:
        self.view = view
        self.metrics = metrics
        self.signal = signal
        self.assets = _load_assets()
        self.streams = threading.BoundedSemaphore(max_clients)
        self.pages = PagePublisher(self._page, signal)
        self.httpd = _Server((host, port), _handler_for(self))
        self._threads: list[threading.Thread] = []

    def _page(self, key: Key) -> dict[str, Any] | None:
        return self.view.overview() if key is None else self.view.station_page(key)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.25},
                             name="view-http", daemon=True),
            threading.Thread(target=self.pages.run, name="view-pages", daemon=True),
        ]  # fmt: skip
        for thread in self._threads:
            thread.start()
        log.info("station display, /metrics and /healthz on http://%s:%d/", *self.address)

    def close(self) -> None:
        """Stop serving: open streams end at their next tick, the socket is closed."""
        self.pages.close()  # wakes every stream at once
        if self._threads:
            self.httpd.shutdown()
            for thread in self._threads:
                thread.join(2)
        self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stream still open at exit does not hold the daemon
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Into the daemon's log, not onto stderr as socketserver would.
        log.exception("station display: a request from %s failed", client_address[0])


def _handler_for(server: ViewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: ViewServer
    server_version = "backflush-edge"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s: " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        station = _STATION_PATH.fullmatch(path)
        view = self.owner.view
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, _HTML, self.owner.assets["overview"])
        elif station is not None:
            self._send(HTTPStatus.OK, _HTML, self.owner.assets["station"])
        elif path.startswith("/assets/") and path[8:] in _ASSETS:
            self._send(HTTPStatus.OK, _ASSETS[path[8:]], self.owner.assets[path[8:]])
        elif path == "/api/overview":
            self._json(view.overview())
        elif path.startswith("/api/station/"):
            page = view.station_page(unquote(path[13:]))
            self._json(page) if page is not None else self._text(HTTPStatus.NOT_FOUND,
                                                                 "no such station\n")  # fmt: skip
        elif path == "/events":
            self._events(parse_qs(url.query).get("station", [None])[0])
        elif path == "/metrics":
            self._send(HTTPStatus.OK, _METRICS_TYPE, self.owner.metrics.text())
        elif path == "/healthz":
            health = view.health()
            status = HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE
            self._text(status, health.reason + "\n")
        elif path == "/status":
            self._json(view.status())
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found\n")

    # --- answers --------------------------------------------------------------------
    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode())

    def _json(self, body: dict[str, Any]) -> None:
        self._send(HTTPStatus.OK, "application/json", json.dumps(body).encode())

    def _events(self, station: Key) -> None:
        """A server-sent events stream: the page's whole state, again whenever it changes."""
        owner = self.owner
        if not owner.streams.acquire(blocking=False):
            self._text(HTTPStatus.SERVICE_UNAVAILABLE, "too many pages open (max_clients)\n")
            return
        try:
            if not owner.pages.watch(station):
                self._text(HTTPStatus.NOT_FOUND, "no such station\n")
                return
            try:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                # A page reconnects this soon after the daemon restarts.
                self.wfile.write(b"retry: 2000\n\n")
                self._stream(station)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass  # the page went away
            finally:
                owner.pages.unwatch(station)
        finally:
            owner.streams.release()

    def _stream(self, station: Key) -> None:
        pages = self.owner.pages
        seen = 0
        quiet = 0.0
        while not pages.stopping.is_set() and not self._page_gone():
            found = pages.next_body(station, seen, CHECK_S)
            if found is not None:
                seen, body = found
                self.wfile.write(b"data: " + body + b"\n\n")
                quiet = 0.0
            elif (quiet := quiet + CHECK_S) >= KEEPALIVE_S:
                self.wfile.write(b": keepalive\n\n")
                quiet = 0.0
            else:
                continue
            self.wfile.flush()

    def _page_gone(self) -> bool:
        """Whether the page closed its end (a page sends nothing after its request)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
