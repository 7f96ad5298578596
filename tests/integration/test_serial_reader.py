"""SerialScanner on a ScannerLoop against real ports: a pty pair, a local TCP server, loop://.

A pty pair plays a USB-CDC scanner: the test writes what the scanner sends on
the master side and reads feedback there, while the reader opens the slave
through a symlink that plays ``/dev/serial/by-id/...`` (it disappears on
unplug and comes back on replug). A TCP server on 127.0.0.1 plays a
fixed-mount scanner behind ``socket://``.

Every wait has a generous ceiling; nothing asserts how fast anything happened.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import socket
import struct
import tempfile
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
import serial.rfc2217

from hardware.reads import RawRead
from hardware.serial.loop import ScannerLoop
from hardware.serial.ports import KEEPALIVE_COUNT, KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S
from hardware.serial.reader import SerialScanner
from tests.broker import poll
from tests.scanner_pty import listen

CEILING_S = 10.0
# Long enough that no idle flush can cut in while a test holds half a code.
NO_IDLE_FLUSH_MS = 60_000


class Recorder:
    """Collects what a scanner reports, from the reader thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: list[RawRead] = []
        self._states: list[tuple[str, str]] = []

    def on_read(self, scanner_id: str, read: RawRead) -> None:
        assert scanner_id == "s1"
        with self._lock:
            self._reads.append(read)

    def on_state(self, scanner_id: str, state: str, detail: str) -> None:
        assert scanner_id == "s1"
        with self._lock:
            self._states.append((state, detail))

    @property
    def codes(self) -> list[bytes]:
        with self._lock:
            return [read.data for read in self._reads]

    @property
    def reads(self) -> list[RawRead]:
        with self._lock:
            return list(self._reads)

    @property
    def states(self) -> list[str]:
        with self._lock:
            return [state for state, _ in self._states]

    def detail(self, state: str) -> str:
        with self._lock:
            return next(detail for s, detail in reversed(self._states) if s == state)

    def wait_codes(self, count: int) -> list[bytes]:
        poll(lambda: len(self.codes) >= count, f"{count} codes (have {self.codes})", CEILING_S)
        return self.codes

    def wait_state(self, state: str, occurrence: int = 1) -> None:
        poll(
            lambda: self.states.count(state) >= occurrence,
            f"state {state!r} #{occurrence} (have {self.states})",
            CEILING_S,
        )


def make_scanner(url: str, recorder: Recorder, **settings: object) -> SerialScanner:
    return SerialScanner(
        "s1",
        url,
        on_read=recorder.on_read,
        on_state=recorder.on_state,
        **settings,  # type: ignore[arg-type]
    )


def unexpected_crash(scanner: SerialScanner, error: Exception) -> None:
    pytest.fail(f"scanner {scanner.scanner_id} crashed: {error!r}")


@contextlib.contextmanager
def running(scanner: SerialScanner) -> Iterator[threading.Thread]:
    """The scanner on a loop of its own; yields the loop's thread."""
    loop = ScannerLoop()
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), name="scanner-loop", daemon=True)
    loop.add(scanner, unexpected_crash)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        loop.wake()
        thread.join(CEILING_S)
        assert not thread.is_alive(), "run() did not return after stop was set"
    assert not scanner.connected


# -- a pty plays a USB-CDC scanner ----------------------------------------------


class PtyScanner:
    """The scanner's end of a pty pair, reachable at a stable symlink like /dev/serial/by-id."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None

    def plug(self) -> None:
        master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)  # the pty lives on while the master is open
        self.master = master
        self.link.symlink_to(name)

    def unplug(self) -> None:
        self.link.unlink()
        assert self.master is not None
        os.close(self.master)  # the reader's next read fails with EIO
        self.master = None

    def send(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def received(self, count: int) -> bytes:
        """Read ``count`` bytes the reader wrote (feedback)."""
        assert self.master is not None
        got = b""
        poller = select.poll()  # the test's own descriptors may be past 1023 too
        poller.register(self.master, select.POLLIN)
        while len(got) < count:
            if not poller.poll(CEILING_S * 1000):
                pytest.fail(f"timed out waiting for {count} bytes of feedback, got {got!r}")
            got += os.read(self.master, count - len(got))
        return got

    def nothing_received(self) -> bool:
        assert self.master is not None
        poller = select.poll()
        poller.register(self.master, select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        if self.master is not None:
            self.unplug()


def bytes_read_by(thread: threading.Thread) -> int:
    """Bytes the thread has taken with read(2) so far (Linux task I/O accounting).

    Tells the test that the reader holds a partial code: "nothing left in the
    pty" alone cannot, since the pty may not have passed the bytes on yet.
    """
    io = Path(f"/proc/self/task/{thread.native_id}/io").read_text()
    return int(next(line.split()[1] for line in io.splitlines() if line.startswith("rchar:")))


@pytest.fixture
def pty_scanner() -> Iterator[PtyScanner]:
    # Not tmp_path: pytest prunes old base temp directories when a session
    # starts, and a second pytest session started meanwhile on this machine
    # could remove the link while the reader is retrying it.
    with tempfile.TemporaryDirectory(prefix="by-id-") as directory:
        device = PtyScanner(Path(directory) / "usb-Acme_Scanner_0001-if00")
        yield device
        device.close()


def test_pty_reads_codes_with_crlf_and_writes_feedback(pty_scanner: PtyScanner) -> None:
    pty_scanner.plug()
    recorder = Recorder()
    scanner = make_scanner(
        str(pty_scanner.link), recorder, feedback_good=b"\x06", feedback_bad=b"\x15\x07"
    )
    with running(scanner):
        recorder.wait_state("connected")
        pty_scanner.send(b"0123456789\r\n]C1010950110153")
        pty_scanner.send(b"0003\r\nPART-7")
        pty_scanner.send(b"\n")
        assert recorder.wait_codes(3) == [b"0123456789", b"]C10109501101530003", b"PART-7"]

        scanner.feedback(True)
        assert pty_scanner.received(1) == b"\x06"
        scanner.feedback(False)
        assert pty_scanner.received(2) == b"\x15\x07"
    assert recorder.states == ["connected"]
    assert all(not read.truncated for read in recorder.reads)


def test_pty_stx_etx_framing_with_noise_and_length_cap(pty_scanner: PtyScanner) -> None:
    pty_scanner.plug()
    recorder = Recorder()
    scanner = make_scanner(str(pty_scanner.link), recorder, terminator="stx-etx", max_length=8)
    with running(scanner):
        recorder.wait_state("connected")
        pty_scanner.send(b"\r\n\x02ABC\x03noise\x02TOO-LONG-CODE\x03\x02XYZ\x03")
        recorder.wait_codes(3)
    assert [(r.data, r.truncated) for r in recorder.reads] == [
        (b"ABC", False),
        (b"TOO-LONG", True),
        (b"XYZ", False),
    ]


def test_pty_idle_flush_reads_a_scanner_without_suffix(pty_scanner: PtyScanner) -> None:
    pty_scanner.plug()
    recorder = Recorder()
    scanner = make_scanner(str(pty_scanner.link), recorder, idle_ms=100)
    with running(scanner):
        recorder.wait_state("connected")
        pty_scanner.send(b"NO-SUFFIX")
        assert recorder.wait_codes(1) == [b"NO-SUFFIX"]


def test_unplug_mid_code_discards_the_partial_and_reads_after_replug(
    pty_scanner: PtyScanner, caplog: pytest.LogCaptureFixture
) -> None:
    pty_scanner.plug()
    recorder = Recorder()
    scanner = make_scanner(
        str(pty_scanner.link), recorder, idle_ms=NO_IDLE_FLUSH_MS, feedback_good=b"\x06"
    )
    with running(scanner) as thread:
        recorder.wait_state("connected")
        pty_scanner.send(b"FIRST\r")
        recorder.wait_codes(1)

        before = bytes_read_by(thread)
        pty_scanner.send(b"HALF-")
        poll(
            lambda: bytes_read_by(thread) >= before + len(b"HALF-"),
            "the reader to take the partial code",
            CEILING_S,
        )
        pty_scanner.unplug()
        recorder.wait_state("disconnected")
        assert not scanner.connected

        # feedback for a scanner that is gone is logged, not raised
        with caplog.at_level(logging.WARNING, logger="hardware.serial.reader"):
            scanner.feedback(True)
        assert "not connected" in caplog.text

        pty_scanner.plug()
        recorder.wait_state("connected", 2)
        pty_scanner.send(b"NEXT\r")
        recorder.wait_codes(2)
        scanner.feedback(True)
        assert pty_scanner.received(1) == b"\x06"
    assert recorder.codes == [b"FIRST", b"NEXT"]
    assert recorder.states == ["connected", "disconnected", "connected"]


def test_missing_device_is_retried_and_reported_once(
    pty_scanner: PtyScanner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hardware.serial.loop")
    recorder = Recorder()
    scanner = make_scanner(str(pty_scanner.link), recorder)
    with running(scanner):
        recorder.wait_state("disconnected")
        poll(
            lambda: sum("retrying" in r.getMessage() for r in caplog.records) >= 3,
            "three retries",
            CEILING_S,
        )
        pty_scanner.plug()
        recorder.wait_state("connected")
        pty_scanner.send(b"HELLO\r")
        assert recorder.wait_codes(1) == [b"HELLO"]
    assert recorder.states == ["disconnected", "connected"]
    assert "No such file" in recorder.detail("disconnected")


def test_device_is_locked_exclusively(pty_scanner: PtyScanner) -> None:
    pty_scanner.plug()
    other = os.open(pty_scanner.link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        # another program holds the port: the reader reports it and waits
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        recorder = Recorder()
        scanner = make_scanner(str(pty_scanner.link), recorder)
        with running(scanner):
            recorder.wait_state("error")
            assert "in use by another program" in recorder.detail("error")
            fcntl.flock(other, fcntl.LOCK_UN)
            recorder.wait_state("connected")
            # now the reader holds it, and the other program is refused
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            pty_scanner.send(b"MINE\r")
            assert recorder.wait_codes(1) == [b"MINE"]
    finally:
        os.close(other)
    assert recorder.states == ["error", "connected"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root opens the device whatever its mode")
def test_unreadable_device_names_the_dialout_group(pty_scanner: PtyScanner) -> None:
    pty_scanner.plug()
    target = pty_scanner.link.resolve()
    mode = target.stat().st_mode
    target.chmod(0)
    recorder = Recorder()
    scanner = make_scanner(str(pty_scanner.link), recorder)
    try:
        with running(scanner):
            recorder.wait_state("error")
            assert "dialout" in recorder.detail("error")
            target.chmod(mode)
            recorder.wait_state("connected")
    finally:
        target.chmod(mode)


# -- a TCP server plays a fixed-mount network scanner ---------------------------


class NetworkScanner:
    """A TCP server on 127.0.0.1 that sends codes to whoever connects."""

    def __init__(self) -> None:
        self.port = 0
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def power_on(self) -> None:
        self.listener = listen(self.port)
        self.port = self.listener.getsockname()[1]

    def accept(self) -> None:
        """Wait for the reader to connect (it does so from its own thread)."""
        assert self.listener is not None
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(CEILING_S)

    def power_off(self) -> None:
        for sock in (self.conn, self.listener):
            if sock is not None:
                sock.close()
        self.conn = self.listener = None

    def send(self, data: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(data)

    def received(self, count: int) -> bytes:
        assert self.conn is not None
        got = b""
        while len(got) < count:
            chunk = self.conn.recv(count - len(got))  # times out after CEILING_S
            assert chunk, f"connection closed after {got!r}"
            got += chunk
        return got

    def client_socket(self) -> socket.socket:
        """The reader's end of the connection."""
        assert self.conn is not None
        peer = self.conn.getpeername()
        return find_socket(lambda sock: sock.getsockname() == peer)

    def delivered(self) -> bool:
        """True when the reader has taken every byte sent from its socket.

        First everything sent is acknowledged (so it sits in the reader's
        receive queue or was read), then that queue is empty.
        """
        assert self.conn is not None
        if _queued(self.conn, termios.TIOCOUTQ):
            return False
        with self.client_socket() as sock:
            return _queued(sock, termios.FIONREAD) == 0


def find_socket(match: Callable[[socket.socket], bool]) -> socket.socket:
    """A TCP socket of this process (a duplicate of its descriptor) that ``match`` picks.

    This is how the tests look at the socket pyserial opened inside the reader
    without reaching into the reader.
    """
    for entry in Path("/proc/self/fd").iterdir():
        try:
            sock = socket.socket(fileno=os.dup(int(entry.name)))
        except (OSError, ValueError):
            continue
        try:
            if sock.type == socket.SOCK_STREAM and sock.family == socket.AF_INET and match(sock):
                return sock
        except OSError:
            pass  # not connected
        sock.close()
    pytest.fail("the reader's socket was not found")


def _queued(sock: socket.socket, request: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(sock, request, b"\0" * 4))[0])


@pytest.fixture
def network_scanner() -> Iterator[NetworkScanner]:
    device = NetworkScanner()
    device.power_on()
    yield device
    device.power_off()


def test_socket_reads_codes_and_writes_feedback(network_scanner: NetworkScanner) -> None:
    recorder = Recorder()
    scanner = make_scanner(network_scanner.url, recorder, feedback_good=b"\x06", feedback_bad=None)
    with running(scanner):
        network_scanner.accept()
        recorder.wait_state("connected")
        network_scanner.send(b"ABC\r\nDEF")
        network_scanner.send(b"\r")
        assert recorder.wait_codes(2) == [b"ABC", b"DEF"]
        scanner.feedback(False)  # nothing configured: nothing written
        scanner.feedback(True)
        assert network_scanner.received(1) == b"\x06"


def test_socket_has_tcp_keepalive(network_scanner: NetworkScanner) -> None:
    recorder = Recorder()
    scanner = make_scanner(network_scanner.url, recorder)
    with running(scanner):
        network_scanner.accept()
        recorder.wait_state("connected")
        with network_scanner.client_socket() as sock:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            tcp = socket.IPPROTO_TCP
            assert sock.getsockopt(tcp, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE_S
            assert sock.getsockopt(tcp, socket.TCP_KEEPINTVL) == KEEPALIVE_INTERVAL_S
            assert sock.getsockopt(tcp, socket.TCP_KEEPCNT) == KEEPALIVE_COUNT
            assert sock.getsockopt(tcp, socket.TCP_NODELAY) != 0
            # a feedback write to a dead reader gives up as soon as keepalive would
            keepalive_ms = (KEEPALIVE_IDLE_S + KEEPALIVE_INTERVAL_S * KEEPALIVE_COUNT) * 1000
            assert sock.getsockopt(tcp, socket.TCP_USER_TIMEOUT) == keepalive_ms


def test_server_gone_mid_code_then_back_reconnects_and_discards_the_partial(
    network_scanner: NetworkScanner,
) -> None:
    recorder = Recorder()
    scanner = make_scanner(
        network_scanner.url, recorder, idle_ms=NO_IDLE_FLUSH_MS, feedback_good=b"OK"
    )
    with running(scanner):
        network_scanner.accept()
        recorder.wait_state("connected")
        network_scanner.send(b"FIRST\r")
        recorder.wait_codes(1)

        network_scanner.send(b"HALF-")
        poll(network_scanner.delivered, "the reader to take the partial code", CEILING_S)
        network_scanner.power_off()
        recorder.wait_state("disconnected")

        network_scanner.power_on()  # same port
        network_scanner.accept()
        recorder.wait_state("connected", 2)
        network_scanner.send(b"NEXT\r")
        recorder.wait_codes(2)
        scanner.feedback(True)
        assert network_scanner.received(2) == b"OK"
    assert recorder.codes == [b"FIRST", b"NEXT"]
    assert recorder.states == ["connected", "disconnected", "connected"]


def test_nothing_is_written_to_a_port_unless_feedback_is_asked_for(
    network_scanner: NetworkScanner,
) -> None:
    recorder = Recorder()
    scanner = make_scanner(network_scanner.url, recorder, feedback_good=b"\x06")
    with running(scanner):
        network_scanner.accept()
        recorder.wait_state("connected")
        network_scanner.send(b"A\r")
        recorder.wait_codes(1)
        scanner.feedback(True)
        # the first byte the scanner ever gets is the feedback
        assert network_scanner.received(1) == b"\x06"


# -- rfc2217:// ----------------------------------------------------------------------


class Rfc2217Server:
    """A serial device server speaking RFC 2217 (pyserial's own PortManager) on 127.0.0.1.

    The test plays the scanner behind it: ``send`` is what the scanner sends
    over its serial line, ``received`` what the server got for the scanner.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(CEILING_S)
        self.port = self.listener.getsockname()[1]
        self._conn: socket.socket | None = None
        self._manager: serial.rfc2217.PortManager | None = None
        self._write_lock = threading.Lock()
        self._received = bytearray()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="rfc2217-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"rfc2217://127.0.0.1:{self.port}"

    def write(self, data: bytes) -> None:
        """The PortManager's way to the network (its replies to negotiation)."""
        assert self._conn is not None
        with self._write_lock:
            self._conn.sendall(data)

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        self._conn = conn
        line = serial.serial_for_url("loop://")  # the server's own serial port
        with self._changed:
            self._manager = serial.rfc2217.PortManager(line, self)
            self._changed.notify_all()
        while data := conn.recv(1024):
            with self._changed:
                self._received += b"".join(self._manager.filter(data))
                self._changed.notify_all()

    def send(self, data: bytes) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._manager is not None, CEILING_S)
            assert self._manager is not None
            self.write(b"".join(self._manager.escape(data)))

    def received(self, count: int) -> bytes:
        with self._changed:
            self._changed.wait_for(lambda: len(self._received) >= count, CEILING_S)
            return bytes(self._received)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.listener.close()
        self._thread.join(CEILING_S)


# pyserial's RFC 2217 client still calls Thread.setDaemon()
@pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")
def test_rfc2217_reads_codes_writes_feedback_and_has_keepalive() -> None:
    server = Rfc2217Server()
    recorder = Recorder()
    # 0xFF is the telnet IAC byte: it must arrive as itself, escaped on the wire
    scanner = make_scanner(server.url, recorder, baudrate=19200, feedback_good=b"\x06\xff")
    try:
        with running(scanner):
            recorder.wait_state("connected")
            server.send(b"RFC\xff2217\r\n")
            assert recorder.wait_codes(1) == [b"RFC\xff2217"]
            scanner.feedback(True)
            assert server.received(2) == b"\x06\xff"
            peer = ("127.0.0.1", server.port)
            with find_socket(lambda sock: sock.getpeername() == peer) as sock:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 10
    finally:
        server.close()


# -- loop:// -----------------------------------------------------------------------


def test_loop_echoes_feedback_back_as_reads() -> None:
    recorder = Recorder()
    scanner = make_scanner(
        "loop://", recorder, feedback_good=b"GOOD\r", feedback_bad=b"BAD\r", terminator="cr"
    )
    with running(scanner):
        recorder.wait_state("connected")
        scanner.feedback(True)
        scanner.feedback(False)
        scanner.feedback(True)
        assert recorder.wait_codes(3) == [b"GOOD", b"BAD", b"GOOD"]


def test_feedback_from_many_threads_while_reading() -> None:
    recorder = Recorder()
    scanner = make_scanner("loop://", recorder, feedback_good=b"G\r", terminator="cr")
    with running(scanner):
        recorder.wait_state("connected")

        def beep_25_times() -> None:
            for _ in range(25):
                scanner.feedback(True)

        writers = [threading.Thread(target=beep_25_times) for _ in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(CEILING_S)
        assert recorder.wait_codes(100) == [b"G"] * 100


# -- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "settings", "message"),
    [
        ("nosuch://x", {}, "protocol"),
        ("socket://10.0.0.5", {}, "host and a port"),
        ("socket://:2001", {}, "host and a port"),
        ("rfc2217://10.0.0.5:99999", {}, "(?i)port"),
        ("loop://", {"parity": "X"}, "parity"),
        ("loop://", {"bytesize": 9}, "bytesize"),
        ("loop://", {"stopbits": 3}, "stopbits"),
        ("loop://", {"baudrate": 0}, "baudrate"),
        ("loop://", {"terminator": "tab"}, "terminator"),
        ("loop://", {"max_length": 0}, "max_length"),
    ],
)
def test_impossible_settings_fail_at_construction(
    url: str, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_scanner(url, Recorder(), **settings)
