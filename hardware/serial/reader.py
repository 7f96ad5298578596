"""Serial and network scanners: open by URL, frame the codes, write feedback, survive unplugs.

A :class:`SerialScanner` holds one configured scanner: its settings, its
framer, its port while open and the feedback bytes. It has no thread: the
:class:`~hardware.serial.loop.ScannerLoop` opens, reads and reopens any number
of them on one thread. The URL is anything pyserial's ``serial_for_url``
opens: a device path (``/dev/ttyACM0``, ``/dev/serial/by-id/...``),
``socket://host:port`` for fixed-mount scanners on Ethernet,
``rfc2217://host:port``, or ``loop://`` (see :mod:`hardware.serial.ports`).

What the reader promises:

* every complete code reaches ``on_read`` (framing rules in
  :mod:`hardware.serial.framing`); ``on_read`` runs on the loop's thread and
  must not block;
* when the port is lost (unplug, EOF or error on a socket, a network scanner
  that lost power and is noticed by TCP keepalive) the partial code is thrown
  away, ``on_state(..., "disconnected", why)`` is reported once, and the loop
  reopens the port with back-off (0.25 s rising to 1 s), so a returning
  scanner is read again within about 2 s. A path that does not exist yet is
  simply retried;
* nothing is ever written to a port except the configured feedback bytes.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import urllib.parse

import serial

from hardware.options import BYTESIZES, PARITIES, STOPBITS
from hardware.reads import RawRead, ReadCallback, StateCallback, StateReporter
from hardware.serial.framing import DEFAULT_IDLE_MS, DEFAULT_MAX_LENGTH, Framer, Terminator
from hardware.serial.ports import (
    WRITE_TIMEOUT_S,
    OpenablePort,
    Port,
    PortLost,
    make_port,
    scheme,
)

log = logging.getLogger(__name__)


class SerialScanner:
    """One serial or network scanner: frames what its port sends, writes feedback to it.

    The ``ScannerLoop`` calls :meth:`open_port` (on its opener thread), then
    :meth:`finish_connect`, :meth:`attach`, :meth:`take`, :meth:`flush` and
    :meth:`detach` on its own thread; :meth:`feedback` may be called from any
    thread at any time.
    """

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
        """Check the settings; opens nothing (the loop does).

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
        }
        if scheme(url) != "rfc2217":
            # pyserial's RFC 2217 client refuses a write timeout; its writes
            # are bounded by its socket's own timeout (5 s) instead.
            self._settings["write_timeout"] = WRITE_TIMEOUT_S
        if _is_local_device(url):
            # flock() the device so a second reader (another daemon, a
            # terminal program left open) is refused rather than splitting
            # the bytes of each code between the two. Only pyserial's POSIX
            # device ports implement it; URL handlers have nothing to lock.
            self._settings["exclusive"] = True
        try:
            # Builds the port without opening it: pyserial checks the URL
            # scheme and the values here, with no I/O.
            make_port(url, self._settings)
        except serial.SerialException as exc:
            raise ValueError(str(exc)) from None
        self._framer = Framer(terminator, idle_ms=idle_ms, max_length=max_length)
        self._feedback_good = feedback_good or None
        self._feedback_bad = feedback_bad or None
        self._on_read = on_read
        # Guards `_port` between the loop (attach, detach) and feedback
        # writers, so a write never lands on a port being closed, nor on a
        # descriptor number that a later open has reused.
        self._lock = threading.Lock()
        self._port: Port | None = None
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

    def feedback(self, good: bool) -> None:
        """Write the configured good-read or bad-read bytes to the scanner.

        Thread-safe with the loop. Without configured bytes it does nothing.
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
            except (serial.SerialException, OSError, PortLost) as exc:
                log.warning(
                    "scanner %s: %s-read feedback not sent to %s: %s",
                    self._scanner_id,
                    kind,
                    self._url,
                    exc,
                )

    # -- driven by the loop --------------------------------------------------

    def open_port(self) -> Port | None:
        """Open the port (a network one may still be connecting); None after a failure.

        A failure is reported (once) through ``on_state``. Runs on the loop's
        opener thread: opening may block (name resolution, RFC 2217 talk).
        """
        port: OpenablePort | None = None
        try:
            port = make_port(self._url, self._settings)
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            self._open_failed(exc)
            return None
        except Exception:
            # Not an error pyserial documents for open; retrying is still the
            # only way a scanner comes back, so the reader carries on.
            log.exception("scanner %s: unexpected error opening %s", self._scanner_id, self._url)
            self._state.report("error", f"unexpected error opening {self._url} (see log)")
            _close_quietly(port)
            return None
        return port

    def finish_connect(self, port: Port) -> bool:
        """After a network port became writable: True if it connected, else report and close."""
        try:
            port.finish_connect()
        except OSError as exc:
            _close_quietly(port)
            self._open_failed(exc)
            return False
        return True

    def attach(self, port: Port) -> None:
        """Start reading an open port: feedback goes to it from now on."""
        with self._lock:
            self._port = port
        self._state.report("connected", self._url)

    def take(self, now: float, *, late: bool = False) -> str | None:
        """Read what has arrived and hand over the codes it completes; why the port was lost.

        Returns None while the port is fine. A bug in framing or in handing
        over raises: the loop stops this scanner and its owner restarts it.
        ``late``: read when the partial code's idle deadline had passed (see
        :meth:`Framer.feed`).
        """
        port = self._port
        if port is None:
            return "the port is closed"
        try:
            data = port.read()
        except PortLost as lost:
            return lost.reason
        except Exception:
            # Not a port error pyserial documents, but the port is unusable
            # all the same; reopening is the only way forward.
            log.exception("scanner %s: unexpected error reading %s", self._scanner_id, self._url)
            return "unexpected read error (see log)"
        for read in self._framer.feed(data, now, late=late):
            self._deliver(read)
        return None

    def flush(self, now: float) -> None:
        """Hand over a partial code that has been idle for idle_ms."""
        read = self._framer.poll(now)
        if read is not None:
            self._deliver(read)

    def deadline(self) -> float | None:
        """When :meth:`flush` has a partial code to hand over, or None."""
        return self._framer.deadline()

    def detach(self) -> None:
        """Forget the partial code and close the port (if open)."""
        self._framer.reset()
        with self._lock:
            # Taking the lock waits out a feedback write in progress; after
            # this, no new write can start on this port.
            port, self._port = self._port, None
        _close_quietly(port)

    def lost(self, reason: str) -> None:
        """Report the port lost (the loop has detached it and will reopen it)."""
        self._state.report("disconnected", reason)

    def report(self, state: str, detail: str) -> None:
        """Report a state the loop decided (its own crash); repeated states are not."""
        self._state.report(state, detail)

    # -- internals ---------------------------------------------------------

    def _open_failed(self, exc: BaseException) -> None:
        state, detail = _open_failure(self._url, exc)
        log.debug("scanner %s: open %s failed: %s", self._scanner_id, self._url, exc)
        self._state.report(state, detail)

    def _deliver(self, read: RawRead) -> None:
        try:
            self._on_read(self._scanner_id, read)
        except Exception:
            # A failing consumer must not stop the scanner: the next code
            # would be lost too. The log names what was dropped.
            log.exception(
                "scanner %s: read %r could not be handed over", self._scanner_id, read.data
            )


def _is_local_device(url: str) -> bool:
    """A device path (not a URL handler) on a platform where pyserial can lock it."""
    return scheme(url) == "" and os.name == "posix"


def _check_network_url(url: str) -> None:
    """Refuse a ``socket://`` or ``rfc2217://`` URL without host and port.

    pyserial only parses these when it opens them, and its complaint would then
    look like a scanner that is switched off, retried for ever.
    """
    if scheme(url) not in ("socket", "rfc2217"):
        return
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url}: {exc}") from None
    if not parts.hostname or port is None:
        raise ValueError(f"{url}: a network scanner URL needs a host and a port (host:port)")


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


def _close_quietly(port: Port | OpenablePort | None) -> None:
    if port is None:
        return
    try:
        port.close()
    except (serial.SerialException, OSError) as exc:
        # Closing a port that is already gone fails; there is nothing left to do.
        log.debug("closing %r failed: %s", port, exc)
