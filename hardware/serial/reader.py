"""Serial and network scanners: open by URL, frame the codes, write feedback, survive unplugs.

One :class:`SerialScanner` per configured scanner, each run on its own thread
(``run(stop)``). The URL is anything pyserial's ``serial_for_url`` opens: a
device path (``/dev/ttyACM0``, ``/dev/serial/by-id/...``), ``socket://host:port``
for fixed-mount scanners on Ethernet, ``rfc2217://host:port``, or ``loop://``.

What the reader promises:

* every complete code reaches ``on_read`` (framing rules in
  :mod:`hardware.serial.framing`); ``on_read`` runs on the reader thread and must not
  block;
* when the port is lost (unplug, EOF or error on a socket, a network scanner
  that lost power and is noticed by TCP keepalive) the partial code is thrown
  away, ``on_state(..., "disconnected", why)`` is reported once, and the port
  is reopened with back-off (0.25 s rising to 2 s), so a returning scanner is
  read again within about 2 s. A path that does not exist yet is simply
  retried. ``run`` never raises because a scanner went away; it returns when
  ``stop`` is set;
* nothing is ever written to a port except the configured feedback bytes.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
import urllib.parse
from typing import Final, Protocol

import serial

from hardware.options import BYTESIZES, PARITIES, STOPBITS
from hardware.reads import RawRead, ReadCallback, StateCallback, StateReporter
from hardware.serial.framing import DEFAULT_IDLE_MS, DEFAULT_MAX_LENGTH, Framer, Terminator

log = logging.getLogger(__name__)

RETRY_FIRST_S: Final = 0.25
# A scanner plugged back in is read again within this long (plus the open):
# the promise is two seconds. A failed open of a missing device is one cheap
# syscall, so trying every second costs nothing worth saving.
RETRY_MAX_S: Final = 1.0
# A connection that lasted at least this long counts as a success, and the next
# loss retries quickly again; one that drops sooner keeps backing off, so a
# port that opens and fails at once is not hammered four times a second.
STABLE_S: Final = 5.0
# The longest a read blocks. Bounds how late an idle flush happens and how long
# `run` takes to notice `stop`.
READ_TIMEOUT_S: Final = 0.05
# A feedback write that cannot complete (flow control holding the line, a TCP
# peer that stopped reading) gives up after this instead of stalling the
# caller, which is the daemon's writer.
WRITE_TIMEOUT_S: Final = 1.0
# How often a back-off wait checks for `stop` and `wake()`.
WAIT_SLICE_S: Final = 0.05

# TCP keepalive for network scanners: a reader that loses power never closes
# its connection, and without probes the socket would wait for data forever.
KEEPALIVE_IDLE_S: Final = 10
KEEPALIVE_INTERVAL_S: Final = 5
KEEPALIVE_COUNT: Final = 3


class SerialPort(Protocol):
    """The part of a pyserial port object the reader uses."""

    @property
    def in_waiting(self) -> int: ...

    def open(self) -> None: ...

    def close(self) -> None: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...


class SerialScanner:
    """One serial or network scanner: reads codes on ``run``'s thread, writes feedback."""

    def __init__(
        self,
        scanner_id: str,
        url: str,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        rtscts: bool = False,
        xonxoff: bool = False,
        terminator: Terminator = "any",
        idle_ms: float = DEFAULT_IDLE_MS,
        max_length: int = DEFAULT_MAX_LENGTH,
        feedback_good: bytes | None = None,
        feedback_bad: bytes | None = None,
        on_read: ReadCallback,
        on_state: StateCallback,
    ) -> None:
        """Check the settings; opens nothing (that happens in ``run``).

        Raises ValueError for settings no port can take (an unknown URL
        scheme, parity, byte size, ...), so a bad config fails at start rather
        than in a retry loop.
        """
        if baudrate <= 0:
            raise ValueError(f"baudrate must be positive, not {baudrate!r}")
        if bytesize not in BYTESIZES:
            raise ValueError(f"bytesize must be one of {BYTESIZES}, not {bytesize!r}")
        if parity not in PARITIES:
            raise ValueError(f"parity must be one of {', '.join(PARITIES)}, not {parity!r}")
        if stopbits not in STOPBITS:
            raise ValueError(f"stopbits must be one of {STOPBITS}, not {stopbits!r}")
        _check_network_url(url)
        self._scanner_id = scanner_id
        self._url = url
        self._settings: dict[str, object] = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
            "rtscts": rtscts,
            "xonxoff": xonxoff,
            "timeout": READ_TIMEOUT_S,
        }
        if _scheme(url) != "rfc2217":
            # pyserial's RFC 2217 client refuses a write timeout; its writes
            # are bounded by its socket's own timeout (5 s) instead.
            self._settings["write_timeout"] = WRITE_TIMEOUT_S
        if _is_local_device(url):
            # flock() the device so a second reader (another daemon, a
            # terminal program left open) is refused rather than splitting
            # the bytes of each code between the two. Only pyserial's POSIX
            # device ports implement it; URL handlers have nothing to lock.
            self._settings["exclusive"] = True
        # Builds the pyserial object without opening it: pyserial checks the
        # URL scheme and the values here, with no I/O.
        _make_port(url, self._settings)
        self._framer = Framer(terminator, idle_ms=idle_ms, max_length=max_length)
        self._feedback_good = feedback_good or None
        self._feedback_bad = feedback_bad or None
        self._on_read = on_read
        # Guards `_port` between the reader thread (open, close) and feedback
        # writers, so a write never lands on a port being closed.
        self._lock = threading.Lock()
        self._port: SerialPort | None = None
        self._wake = threading.Event()
        self._state = StateReporter(scanner_id, on_state)

    @property
    def scanner_id(self) -> str:
        return self._scanner_id

    @property
    def url(self) -> str:
        return self._url

    @property
    def connected(self) -> bool:
        return self._port is not None

    def run(self, stop: threading.Event) -> None:
        """Read until ``stop`` is set, reopening the port whenever it is lost.

        Call from one thread per scanner. Stopping reports no state change;
        the caller knows it stopped the reader.
        """
        try:
            self._run(stop)
        finally:
            # Also when a bug raises: the port (locked for a device) is released
            # for whatever reads this scanner next.
            self._close()

    def _run(self, stop: threading.Event) -> None:
        delay = RETRY_FIRST_S
        while not stop.is_set():
            port = self._open()
            if port is None:
                self._wait(stop, delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            opened_at = time.monotonic()
            self._state.report("connected", self._url)
            lost = self._read_until_lost(port, stop)
            self._close()
            if lost is None:
                break
            self._state.report("disconnected", lost)
            if time.monotonic() - opened_at >= STABLE_S:
                delay = RETRY_FIRST_S
            self._wait(stop, delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def wake(self) -> None:
        """Retry opening now rather than after the back-off (hot-plug: the device is back)."""
        self._wake.set()

    def feedback(self, good: bool) -> None:
        """Write the configured good-read or bad-read bytes to the scanner.

        Thread-safe with the reader. Without configured bytes it does nothing.
        A port that is not open, or a write that fails, is logged and not
        raised: the scan it answers is already committed or journaled.
        """
        data = self._feedback_good if good else self._feedback_bad
        if data is None:
            return
        kind = "good" if good else "bad"
        with self._lock:
            port = self._port
            if port is None:
                log.warning(
                    "scanner %s: %s-read feedback not sent: port %s is not connected",
                    self._scanner_id,
                    kind,
                    self._url,
                )
                return
            try:
                port.write(data)
            except (serial.SerialException, OSError) as exc:
                log.warning(
                    "scanner %s: %s-read feedback not sent to %s: %s",
                    self._scanner_id,
                    kind,
                    self._url,
                    exc,
                )

    # -- internals ---------------------------------------------------------

    def _open(self) -> SerialPort | None:
        """Open the port; on failure report why (once) and return None."""
        try:
            port = _make_port(self._url, self._settings)
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            state, detail = _open_failure(self._url, exc)
            log.debug("scanner %s: open %s failed: %s", self._scanner_id, self._url, exc)
            self._state.report(state, detail)
            return None
        except Exception:
            # Not an error pyserial documents for open; retrying is still the
            # only way a scanner comes back, so the reader carries on.
            log.exception("scanner %s: unexpected error opening %s", self._scanner_id, self._url)
            self._state.report("error", f"unexpected error opening {self._url} (see log)")
            return None
        try:
            _tune_socket(port)
        except OSError as exc:
            _close_quietly(port)
            self._state.report("error", f"cannot set TCP keepalive on {self._url}: {exc}")
            return None
        with self._lock:
            self._port = port
        return port

    def _read_until_lost(self, port: SerialPort, stop: threading.Event) -> str | None:
        """Deliver reads until the port fails (return why) or ``stop`` is set (return None)."""
        framer = self._framer
        while not stop.is_set():
            try:
                # Block for the first byte (up to READ_TIMEOUT_S), then take
                # whatever else has arrived, without waiting for more.
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                return str(exc) or type(exc).__name__
            except Exception:
                # Not a port error pyserial documents, but the port is unusable
                # all the same; reopening is the only way forward.
                log.exception(
                    "scanner %s: unexpected error reading %s", self._scanner_id, self._url
                )
                return "unexpected read error (see log)"
            now = time.monotonic()
            reads = framer.feed(data, now)
            flushed = framer.poll(now)
            if flushed is not None:
                reads.append(flushed)
            for read in reads:
                self._deliver(read)
        return None

    def _deliver(self, read: RawRead) -> None:
        try:
            self._on_read(self._scanner_id, read)
        except Exception:
            # A failing consumer must not stop the scanner: the next code
            # would be lost too. The log names what was dropped.
            log.exception(
                "scanner %s: read %r could not be handed over", self._scanner_id, read.data
            )

    def _close(self) -> None:
        """Forget the partial code and close the port (if open)."""
        self._framer.reset()
        with self._lock:
            # Taking the lock waits out a feedback write in progress; after
            # this, no new write can start on this port.
            port, self._port = self._port, None
        if port is not None:
            _close_quietly(port)

    def _wait(self, stop: threading.Event, delay: float) -> None:
        deadline = time.monotonic() + delay
        log.debug("scanner %s: retrying %s in %.2f s", self._scanner_id, self._url, delay)
        while not stop.is_set() and not self._wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            stop.wait(min(left, WAIT_SLICE_S))
        self._wake.clear()


def _scheme(url: str) -> str:
    """The URL handler pyserial picks for ``url`` ("" for a device path)."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _is_local_device(url: str) -> bool:
    """A device path (not a URL handler) on a platform where pyserial can lock it."""
    return _scheme(url) == "" and os.name == "posix"


def _check_network_url(url: str) -> None:
    """Refuse a ``socket://`` or ``rfc2217://`` URL without host and port.

    pyserial only parses these when it opens them, and its complaint would then
    look like a scanner that is switched off, retried for ever.
    """
    if _scheme(url) not in ("socket", "rfc2217"):
        return
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url}: {exc}") from None
    if not parts.hostname or port is None:
        raise ValueError(f"{url}: a network scanner URL needs a host and a port (host:port)")


def _make_port(url: str, settings: dict[str, object]) -> SerialPort:
    port: SerialPort = serial.serial_for_url(url, do_not_open=True, **settings)
    return port


def _open_failure(url: str, exc: BaseException) -> tuple[str, str]:
    """Classify a failed open: "error" when waiting alone will not fix it, else "disconnected"."""
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM):
        return (
            "error",
            f"permission denied on {url}: the service user needs the dialout group "
            "(SupplementaryGroups=dialout in the systemd unit)",
        )
    if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
        return "error", f"{url} is in use by another program"
    if isinstance(exc, ValueError):
        return "error", f"cannot open {url}: {exc}"
    return "disconnected", str(exc) or type(exc).__name__


def _tune_socket(port: SerialPort) -> None:
    """Switch on TCP keepalive (and no-delay) on a network port's socket.

    pyserial's ``socket://`` and ``rfc2217://`` handlers keep their connected
    socket in ``_socket``; ports without one (device paths, ``loop://``) are
    left alone.
    """
    sock = getattr(port, "_socket", None)
    if not isinstance(sock, socket.socket):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # Idle, interval and count have these names on Linux; other platforms
    # keep their defaults (keepalive is still on, only slower to notice).
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        # Keepalive probes stop while sent data waits for its ACK, so a
        # feedback write to a dead reader would hold the connection open for
        # the kernel's full retransmission time (about 15 min). The user
        # timeout ends it after as long as keepalive takes.
        ("TCP_USER_TIMEOUT", (KEEPALIVE_IDLE_S + KEEPALIVE_INTERVAL_S * KEEPALIVE_COUNT) * 1000),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)
    # Feedback is a byte or two that the operator waits for: send it now
    # rather than behind Nagle's algorithm.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _close_quietly(port: SerialPort) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError) as exc:
        # Closing a port that is already gone fails; there is nothing left to do.
        log.debug("closing %r failed: %s", port, exc)
