"""The ports a serial scanner is read through, each readable without ``select()``.

pyserial's own ``read()`` and ``write()`` wait in ``select()``, which refuses
any descriptor numbered 1024 or more, so a daemon holding a thousand scanners
cannot use them. Here pyserial only opens and configures a port (baud rate,
parity, the exclusive lock); the bytes are read without blocking straight from
what it opened, and the :class:`~hardware.serial.loop.ScannerLoop` waits for
many ports at once in ``epoll``. Three kinds:

* :class:`DevicePort`: a tty (``/dev/ttyACM0``, ``/dev/serial/by-id/...``, a pty),
  read with ``os.read`` on its descriptor;
* :class:`SocketPort`: ``socket://host:port``, a TCP socket connected without
  blocking (the loop waits for the connection to finish) and read with ``recv``;
* :class:`PolledPort`: every other pyserial URL (``loop://``, ``rfc2217://``),
  which has no descriptor of its own to wait on: the loop asks it for bytes
  every :data:`POLL_S`, with a read timeout of zero.

A read returns what has arrived (``b""`` when nothing has) and raises
:class:`PortLost` when the port is gone. A write sends all the bytes or
raises ``OSError`` (``TimeoutError`` after :data:`WRITE_TIMEOUT_S`).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from collections.abc import Callable
from typing import Final, Protocol

import serial

READ_SIZE: Final = 4096
# How often a port without a descriptor (loop://, rfc2217://) is asked for
# bytes. Also how late its idle flush can be: the old per-thread read timeout.
POLL_S: Final = 0.05
# A feedback write that cannot complete (flow control holding the line, a TCP
# peer that stopped reading) gives up after this instead of stalling the
# caller, which is the daemon's writer.
WRITE_TIMEOUT_S: Final = 1.0
# A network scanner that does not answer a connection attempt within this is
# treated as switched off, as pyserial's own socket:// handler does.
CONNECT_TIMEOUT_S: Final = 5.0

# TCP keepalive for network scanners: a reader that loses power never closes
# its connection, and without probes the socket would wait for data forever.
KEEPALIVE_IDLE_S: Final = 10
KEEPALIVE_INTERVAL_S: Final = 5
KEEPALIVE_COUNT: Final = 3

# The descriptors pyserial's POSIX port opens for cancelling its select()-based
# read and write. The reader never calls either, so it gives them back.
_CANCEL_PIPES: Final = (
    "pipe_abort_read_r",
    "pipe_abort_read_w",
    "pipe_abort_write_r",
    "pipe_abort_write_w",
)


class PortLost(Exception):
    """The port is gone (unplugged, hung up, the peer closed); ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Port(Protocol):
    """An open port as the loop and the feedback writer use it."""

    def fileno(self) -> int | None:
        """The descriptor to wait on, or None: the port is polled."""

    @property
    def connecting(self) -> bool:
        """True until a network connection has finished (see :meth:`finish_connect`)."""

    def finish_connect(self) -> None:
        """Raise ``OSError`` if the connection attempt failed; call once it is writable."""

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class _UnpipedSerial(serial.Serial):  # type: ignore[misc]  # pyserial has no type hints
    """pyserial's POSIX port, opened and configured by pyserial, without its cancel pipes.

    Four descriptors fewer per scanner, and none of them could be waited on
    by pyserial anyway once numbered past 1023.
    """

    fd: int | None
    is_open: bool

    def open(self) -> None:
        super().open()
        for name in _CANCEL_PIPES:
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def close(self) -> None:
        # pyserial's close() would close the pipes given back above.
        if self.is_open and self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.is_open = False


class DevicePort:
    """A tty opened by pyserial, read and written on its non-blocking descriptor."""

    connecting: Final = False

    def __init__(self, url: str, settings: dict[str, object]) -> None:
        self._serial = _UnpipedSerial(**settings)
        self._serial.port = url

    def open(self) -> None:
        self._serial.open()
        # pyserial opens with O_NONBLOCK; said again because the loop relies on it.
        os.set_blocking(self._fd, False)

    @property
    def _fd(self) -> int:
        fd = self._serial.fd
        if fd is None:
            raise PortLost("the port is closed")
        return int(fd)

    def fileno(self) -> int | None:
        return self._fd

    def finish_connect(self) -> None:
        return None

    def read(self) -> bytes:
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:  # EIO: the pty's other side closed, the USB device is gone
            raise PortLost(f"read failed: {exc}") from exc
        if not data:
            # A tty the loop saw readable that gives nothing back is gone:
            # how an unplugged USB-serial adapter answers on Linux.
            raise PortLost(
                "device reports readiness to read but returned no data "
                "(device disconnected or multiple access on port?)"
            )
        return data

    def write(self, data: bytes) -> None:
        fd = self._fd
        _write_all(lambda chunk: os.write(fd, chunk), fd, data)

    def close(self) -> None:
        self._serial.close()


class SocketPort:
    """``socket://host:port``: a TCP socket tuned for scanners, connected without blocking."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._socket: socket.socket | None = None
        self._connecting = True

    def open(self) -> None:
        """Resolve the name and start connecting; the loop waits for the socket to be writable.

        Name resolution blocks: this runs on the loop's opener thread.
        """
        family, kind, proto, _, address = socket.getaddrinfo(
            *self._address, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            tune_socket(sock)
            error = sock.connect_ex(address)
        except OSError:
            sock.close()
            raise
        if error not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(error, f"could not open port socket://{self._address[0]}:"
                                 f"{self._address[1]}: {os.strerror(error)}")  # fmt: skip
        self._socket = sock

    @property
    def connecting(self) -> bool:
        return self._connecting

    def fileno(self) -> int | None:
        return self._sock.fileno()

    @property
    def _sock(self) -> socket.socket:
        if self._socket is None:
            raise PortLost("the connection is closed")
        return self._socket

    def finish_connect(self) -> None:
        error = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, os.strerror(error))
        self._connecting = False

    def read(self) -> bytes:
        try:
            data = self._sock.recv(READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:  # reset by the peer, or keepalive found it dead
            raise PortLost(f"connection failed: {exc}") from exc
        if not data:
            raise PortLost("connection closed by the scanner")
        return data

    def write(self, data: bytes) -> None:
        sock = self._sock
        _write_all(sock.send, sock.fileno(), data)

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


class PolledPort:
    """Any other pyserial port (``loop://``, ``rfc2217://``), asked for bytes every POLL_S."""

    connecting: Final = False

    def __init__(self, url: str, settings: dict[str, object]) -> None:
        # A read timeout of zero: read() returns at once with what is there.
        self._serial = serial.serial_for_url(url, do_not_open=True, **{**settings, "timeout": 0})

    def open(self) -> None:
        self._serial.open()
        # pyserial's RFC 2217 client keeps its connected socket here.
        sock = getattr(self._serial, "_socket", None)
        if isinstance(sock, socket.socket):
            tune_socket(sock)

    def fileno(self) -> int | None:
        return None

    def finish_connect(self) -> None:
        return None

    def read(self) -> bytes:
        try:
            # Asking for one byte when none is waiting is what lets the RFC
            # 2217 client say its connection died.
            data: bytes = self._serial.read(self._serial.in_waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise PortLost(str(exc) or type(exc).__name__) from exc
        return data

    def write(self, data: bytes) -> None:
        self._serial.write(data)

    def close(self) -> None:
        self._serial.close()


OpenablePort = DevicePort | SocketPort | PolledPort


def scheme(url: str) -> str:
    """The URL handler pyserial picks for ``url`` ("" for a device path)."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def make_port(url: str, settings: dict[str, object]) -> OpenablePort:
    """The port for ``url``, not yet open (no I/O: pyserial only checks the values)."""
    match scheme(url):
        case "":
            return DevicePort(url, settings)
        case "socket":
            # pyserial's socket handler parses the URL (and refuses unknown
            # options) even though the reader connects the socket itself.
            host, port = serial.serial_for_url(url, do_not_open=True).from_url(url)
            return SocketPort(str(host), int(port))
        case _:
            return PolledPort(url, settings)


def _write_all(send: Callable[[memoryview], int], fd: int, data: bytes) -> None:
    """Send every byte on a non-blocking descriptor, waiting in poll() when it is full."""
    deadline = time.monotonic() + WRITE_TIMEOUT_S
    pending = memoryview(data)
    poller: select.poll | None = None
    while pending:
        try:
            pending = pending[send(pending) :]
            continue
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"write timed out after {WRITE_TIMEOUT_S:g} s")
        if poller is None:
            # poll(), unlike select(), takes any descriptor number.
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
        poller.poll(left * 1000)


def tune_socket(sock: socket.socket) -> None:
    """Switch on TCP keepalive (and no-delay) on a network scanner's socket."""
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
