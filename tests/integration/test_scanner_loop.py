"""Many scanners on one ScannerLoop: real ptys (past descriptor 1023), loop://, socket://.

Each pty plays a USB-CDC scanner: the test writes what the scanner sends on
the master side and reads the feedback there; the loop opens the slave by
its path. Every wait has a generous ceiling; nothing asserts how fast
anything happened.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.runtime.supervision import RestartPolicy, Supervisor
from hardware.reads import RawRead
from hardware.serial.framing import Framer
from hardware.serial.loop import ScannerLoop
from hardware.serial.reader import SerialScanner
from tests.broker import poll
from tests.integration.test_serial_reader import CEILING_S, PtyScanner
from tests.scanner_pty import listen

SELECT_CEILING = 1024  # select() refuses descriptors from this number on
MANY = 40


class Recorder:
    """What every scanner reported, by scanner id (called from the loop's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reads: dict[str, list[bytes]] = {}
        self.states: dict[str, list[str]] = {}
        self.crashes: list[tuple[str, Exception]] = []

    def on_read(self, scanner_id: str, read: RawRead) -> None:
        with self._lock:
            self.reads.setdefault(scanner_id, []).append(read.data)

    def on_state(self, scanner_id: str, state: str, _detail: str) -> None:
        with self._lock:
            self.states.setdefault(scanner_id, []).append(state)

    def on_crash(self, scanner: SerialScanner, error: Exception) -> None:
        with self._lock:
            self.crashes.append((scanner.scanner_id, error))

    def codes(self, scanner_id: str) -> list[bytes]:
        with self._lock:
            return list(self.reads.get(scanner_id, []))

    def state_list(self, scanner_id: str) -> list[str]:
        with self._lock:
            return list(self.states.get(scanner_id, []))

    def count(self, scanner_id: str, state: str) -> int:
        return self.state_list(scanner_id).count(state)


class Pty(PtyScanner):
    """A scanner's end of a pty pair, plugged in when made."""

    def __init__(self, link: Path) -> None:
        super().__init__(link)
        self.plug()


def scanner(url: str, recorder: Recorder, name: str, **settings: object) -> SerialScanner:
    return SerialScanner(
        name,
        url,
        terminator="cr",
        on_read=recorder.on_read,
        on_state=recorder.on_state,
        **settings,  # type: ignore[arg-type]
    )


class RunningLoop:
    """A ScannerLoop on a thread of the test, stopped (and checked stopped) at the end."""

    def __init__(self, loop: ScannerLoop | None = None) -> None:
        self.loop = loop or ScannerLoop()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def halt(self) -> None:
        self.stop.set()
        self.loop.wake()
        self.thread.join(CEILING_S)
        assert not self.thread.is_alive(), "the loop did not stop"


@pytest.fixture
def loops() -> Iterator[list[RunningLoop]]:
    started: list[RunningLoop] = []
    yield started
    for running in started:
        if running.thread.is_alive():
            running.halt()


@pytest.fixture
def ptys(tmp_path: Path) -> Iterator[list[Pty]]:
    made = [Pty(tmp_path / f"scanner-{index:03d}") for index in range(MANY)]
    yield made
    for pty in made:
        pty.close()


@contextlib.contextmanager
def open_files_for(wanted: int) -> Iterator[None]:
    """Raise the soft open-file limit to ``wanted`` (skip if the hard one is lower)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-file limit {hard} is below the {wanted} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def low_descriptors_taken(above: int) -> Iterator[None]:
    """Fill every free descriptor number below ``above``: the next ones opened are past it."""
    with open_files_for(above + 4 * MANY + 256):
        fillers: list[int] = []
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            fillers.append(null)
            while fillers[-1] < above - 1:
                fillers.append(os.dup(null))
            yield
        finally:
            for fd in fillers:
                os.close(fd)


def open_descriptors() -> dict[int, str]:
    """This process's descriptors and what each is (the target of /proc/self/fd/N)."""
    found = {}
    for entry in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            found[int(entry.name)] = str(entry.readlink())
    return found


def test_many_ptys_past_descriptor_1023_are_each_read_once_and_answered_on_their_own(
    ptys: list[Pty], loops: list[RunningLoop]
) -> None:
    recorder = Recorder()
    with low_descriptors_taken(SELECT_CEILING):
        running = RunningLoop()
        loops.append(running)
        scanners = [
            scanner(
                str(pty.link), recorder, f"s{index:03d}", feedback_good=f"OK{index:03d}".encode()
            )
            for index, pty in enumerate(ptys)
        ]
        for each in scanners:
            running.loop.add(each, recorder.on_crash)
        poll(
            lambda: all(each.connected for each in scanners), "every scanner to connect", CEILING_S
        )
        slaves = {os.path.realpath(pty.link) for pty in ptys}
        held = [fd for fd, target in open_descriptors().items() if target in slaves]
        assert len(held) == MANY  # one descriptor per port: pyserial's pipes were given back
        assert min(held) >= SELECT_CEILING

        for index, pty in enumerate(ptys):
            pty.send(f"CODE-{index:03d}\r".encode())
        for index, _pty in enumerate(ptys):
            poll(
                lambda i=index: bool(recorder.codes(f"s{i:03d}")), f"s{index:03d}'s code", CEILING_S
            )
        for each in scanners:
            each.feedback(True)
        for index, pty in enumerate(ptys):
            assert pty.received(5) == f"OK{index:03d}".encode()
        running.halt()
    for index, _pty in enumerate(ptys):
        assert recorder.codes(f"s{index:03d}") == [f"CODE-{index:03d}".encode()]
        assert recorder.state_list(f"s{index:03d}") == ["connected"]
    assert recorder.crashes == []
    assert not any(each.connected for each in scanners)


def test_unplugged_scanners_are_reopened_while_the_others_read_on(
    ptys: list[Pty], loops: list[RunningLoop]
) -> None:
    recorder = Recorder()
    running = RunningLoop()
    loops.append(running)
    scanners = [
        scanner(str(p.link), recorder, f"s{i:03d}", idle_ms=60_000, feedback_good=b"\x06")
        for i, p in enumerate(ptys)
    ]
    for each in scanners:
        running.loop.add(each, recorder.on_crash)
    poll(lambda: all(each.connected for each in scanners), "every scanner to connect", CEILING_S)
    pulled = ptys[:5]
    for pty in pulled:
        pty.send(b"HALF-")  # half a code, thrown away when the port is lost
    for pty in pulled:
        pty.unplug()
    poll(
        lambda: all(recorder.count(f"s{i:03d}", "disconnected") == 1 for i in range(5)),
        "the unplugged scanners to be reported lost",
        CEILING_S,
    )
    for index, pty in enumerate(ptys[5:], 5):
        pty.send(f"STILL-{index}\r".encode())
    poll(lambda: all(recorder.codes(f"s{i:03d}") for i in range(5, MANY)), "the others", CEILING_S)

    for pty in pulled:
        pty.plug()
    poll(
        lambda: all(recorder.count(f"s{i:03d}", "connected") == 2 for i in range(5)),
        "the replugged scanners to reconnect",
        CEILING_S,
    )
    for index, pty in enumerate(pulled):
        pty.send(f"BACK-{index}\r".encode())
        poll(lambda i=index: bool(recorder.codes(f"s{i:03d}")), f"s{index:03d}'s code", CEILING_S)
        scanners[index].feedback(True)
        assert pty.received(1) == b"\x06"
    for index in range(5):
        assert recorder.codes(f"s{index:03d}") == [f"BACK-{index}".encode()]
        assert recorder.state_list(f"s{index:03d}") == ["connected", "disconnected", "connected"]
    for index in range(5, MANY):
        assert recorder.codes(f"s{index:03d}") == [f"STILL-{index}".encode()]


def test_loop_and_socket_scanners_share_the_loop_with_ptys(
    ptys: list[Pty], loops: list[RunningLoop]
) -> None:
    recorder = Recorder()
    running = RunningLoop()
    loops.append(running)
    listener = listen()
    try:
        url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
        network = scanner(url, recorder, "net", feedback_good=b"NET-OK")
        echo = scanner("loop://", recorder, "loop", feedback_good=b"ECHO\r")
        tty = scanner(str(ptys[0].link), recorder, "tty", feedback_good=b"\x06")
        for each in (network, echo, tty):
            running.loop.add(each, recorder.on_crash)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(CEILING_S)
            poll(lambda: network.connected and echo.connected and tty.connected, "all", CEILING_S)
            conn.sendall(b"FROM-NET\r")
            ptys[0].send(b"FROM-TTY\r")
            echo.feedback(True)  # loop:// hands what is written back as a read
            poll(lambda: all(recorder.codes(n) for n in ("net", "loop", "tty")), "reads", CEILING_S)
            network.feedback(True)
            assert conn.recv(16) == b"NET-OK"
            conn.close()  # the network scanner goes away
            poll(lambda: recorder.count("net", "disconnected") == 1, "net lost", CEILING_S)
            # ... and comes back: the loop reconnects to the same listener
            again, _ = listener.accept()
            again.close()
    finally:
        listener.close()
    assert recorder.codes("net") == [b"FROM-NET"]
    assert recorder.codes("loop") == [b"ECHO"]
    assert recorder.codes("tty") == [b"FROM-TTY"]
    assert recorder.crashes == []


class BuggyFramer(Framer):
    """The real framer with a bug: it raises on the code BOOM."""

    def feed(self, data: bytes, now: float, *, late: bool = False) -> list[RawRead]:
        reads = super().feed(data, now, late=late)
        if any(read.data == b"BOOM" for read in reads):
            raise RuntimeError("framing bug")
        return reads


def test_a_scanner_that_raises_is_taken_out_alone(
    ptys: list[Pty], loops: list[RunningLoop]
) -> None:
    recorder = Recorder()
    running = RunningLoop()
    loops.append(running)
    buggy = scanner(str(ptys[0].link), recorder, "buggy")
    buggy._framer = BuggyFramer("cr")  # the bug goes in through the framer's own interface
    others = [scanner(str(p.link), recorder, f"s{i}") for i, p in enumerate(ptys[1:4], 1)]
    for each in (buggy, *others):
        running.loop.add(each, recorder.on_crash)
    poll(lambda: all(each.connected for each in (buggy, *others)), "every scanner", CEILING_S)

    ptys[0].send(b"BOOM\r")
    poll(lambda: bool(recorder.crashes), "the crash to be handed over", CEILING_S)
    assert [(name, str(error)) for name, error in recorder.crashes] == [("buggy", "framing bug")]
    assert not buggy.connected
    # its port is closed and unlocked: another program may take the device now
    fd = os.open(ptys[0].link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    for index, pty in enumerate(ptys[1:4], 1):
        pty.send(f"AFTER-{index}\r".encode())
    poll(lambda: all(recorder.codes(f"s{i}") for i in range(1, 4)), "the others' reads", CEILING_S)
    # the owner adds a fresh reader for the same device, which reads again
    fresh = scanner(str(ptys[0].link), recorder, "buggy")
    running.loop.add(fresh, recorder.on_crash)
    poll(lambda: fresh.connected, "the fresh reader", CEILING_S)
    ptys[0].send(b"AGAIN\r")
    poll(lambda: recorder.codes("buggy") == [b"AGAIN"], "the fresh reader's read", CEILING_S)


class LoopWithABug(ScannerLoop):
    """The real loop, whose timers fail once with an error of the loop's own."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = threading.Event()

    def _run_timers(self, now: float) -> None:
        if self.armed.is_set():
            self.armed.clear()
            raise RuntimeError("loop bug")
        super()._run_timers(now)


def test_a_crashed_loop_is_restarted_and_reopens_every_scanner(ptys: list[Pty]) -> None:
    recorder = Recorder()
    loop = LoopWithABug()
    supervisor = Supervisor(on_fatal=lambda: None)
    stop = threading.Event()
    scanners = [scanner(str(p.link), recorder, f"s{i}") for i, p in enumerate(ptys[:3])]
    for each in scanners:
        loop.add(each, recorder.on_crash)
    thread = supervisor.start_restarting(
        "serial scanner loop",
        loop.run,
        stop,
        policy=RestartPolicy(first_s=0.2, max_s=0.2),
        on_crash=loop.crashed,
    )
    try:
        poll(lambda: all(each.connected for each in scanners), "every scanner", CEILING_S)
        loop.armed.set()
        loop.wake()
        poll(
            lambda: all(recorder.count(f"s{i}", "connected") == 2 for i in range(3)),
            "every scanner reopened after the restart",
            CEILING_S,
        )
        for index, pty in enumerate(ptys[:3]):
            pty.send(f"AFTER-{index}\r".encode())
        poll(lambda: all(recorder.codes(f"s{i}") for i in range(3)), "reads again", CEILING_S)
    finally:
        stop.set()
        loop.wake()
        thread.join(CEILING_S)
    assert not thread.is_alive()
    for index in range(3):
        assert recorder.state_list(f"s{index}") == ["connected", "error", "connected"]
        assert recorder.codes(f"s{index}") == [f"AFTER-{index}".encode()]
    assert recorder.crashes == []
    assert not any(each.connected for each in scanners)


def test_a_removed_scanner_releases_its_port_and_the_rest_read_on(
    ptys: list[Pty], loops: list[RunningLoop]
) -> None:
    recorder = Recorder()
    running = RunningLoop()
    loops.append(running)
    scanners = [scanner(str(p.link), recorder, f"s{i}") for i, p in enumerate(ptys[:4])]
    for each in scanners:
        running.loop.add(each, recorder.on_crash)
    poll(lambda: all(each.connected for each in scanners), "every scanner", CEILING_S)

    assert running.loop.remove(scanners[0]).wait(CEILING_S)
    assert not scanners[0].connected
    fd = os.open(ptys[0].link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the removed reader
    finally:
        os.close(fd)
    ptys[0].send(b"UNHEARD\r")
    for index, pty in enumerate(ptys[1:4], 1):
        pty.send(f"HEARD-{index}\r".encode())
    poll(lambda: all(recorder.codes(f"s{i}") for i in range(1, 4)), "the others' reads", CEILING_S)
    assert recorder.codes("s0") == []
    assert recorder.crashes == []


def test_stopping_closes_every_port(tmp_path: Path) -> None:
    count = 200
    recorder = Recorder()
    made = [Pty(tmp_path / f"p{index:03d}") for index in range(count)]
    try:
        with open_files_for(4 * count + 256):
            running = RunningLoop()
            scanners = [scanner(str(p.link), recorder, f"s{i}") for i, p in enumerate(made)]
            for each in scanners:
                running.loop.add(each, recorder.on_crash)
            poll(lambda: all(each.connected for each in scanners), "every scanner", CEILING_S)
            slaves = {os.path.realpath(pty.link) for pty in made}
            running.halt()
            still_open = [t for t in open_descriptors().values() if t in slaves]
    finally:
        for pty in made:
            pty.close()
    assert still_open == []
    assert not any(each.connected for each in scanners)
    assert all(recorder.state_list(f"s{i}") == ["connected"] for i in range(count))


def test_feedback_from_another_thread_never_lands_on_a_reopened_port(
    ptys: list[Pty], loops: list[RunningLoop]
) -> None:
    """Ports closed and reopened under a busy writer: its bytes reach only its own scanner."""
    recorder = Recorder()
    running = RunningLoop()
    loops.append(running)
    beeping = scanner(str(ptys[0].link), recorder, "beeping", feedback_good=b"B")
    quiet = scanner(str(ptys[1].link), recorder, "quiet")  # no feedback configured
    for each in (beeping, quiet):
        running.loop.add(each, recorder.on_crash)
    done = threading.Event()
    failures: list[BaseException] = []

    def beep() -> None:
        while not done.wait(0.001):  # a beep a millisecond, as a very busy writer
            try:
                beeping.feedback(True)
            except BaseException as error:  # noqa: BLE001  # reported by the test below
                failures.append(error)
                return

    writer = threading.Thread(target=beep, daemon=True)
    writer.start()
    try:
        for cycle in range(1, 4):
            poll(lambda: beeping.connected and quiet.connected, f"both open ({cycle})", CEILING_S)
            for pty in ptys[:2]:
                pty.unplug()
            # the quiet one comes back first, so it may get the beeping one's old number
            ptys[1].plug()
            poll(lambda c=cycle: recorder.count("quiet", "connected") == c + 1, "quiet", CEILING_S)
            assert ptys[1].nothing_received()
            ptys[0].plug()
            poll(lambda c=cycle: recorder.count("beeping", "connected") == c + 1, "back", CEILING_S)
        # Heard while the writer still beeps: stopped at once, it may not have beeped since.
        assert ptys[0].received(1) == b"B"
    finally:
        done.set()
        writer.join(CEILING_S)
    assert failures == []
    assert ptys[1].nothing_received()
    assert recorder.crashes == []


def reader_descriptor(address: tuple[str, int]) -> int:
    """The number of this process's TCP descriptor whose local address is ``address``."""
    for fd, target in open_descriptors().items():
        if not target.startswith("socket:"):
            continue
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
            if sock.family == socket.AF_INET and sock.getsockname() == address:
                return fd
    pytest.fail(f"no descriptor bound to {address}")


def test_a_network_scanner_past_descriptor_1023_reads_and_is_answered(
    loops: list[RunningLoop],
) -> None:
    recorder = Recorder()
    listener = listen()
    try:
        with low_descriptors_taken(SELECT_CEILING):
            running = RunningLoop()
            loops.append(running)
            url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
            network = scanner(url, recorder, "net", feedback_good=b"OK")
            running.loop.add(network, recorder.on_crash)
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(CEILING_S)
                poll(lambda: network.connected, "the network scanner to connect", CEILING_S)
                assert reader_descriptor(conn.getpeername()) >= SELECT_CEILING
                conn.sendall(b"OVER-1023\r")
                poll(lambda: recorder.codes("net") == [b"OVER-1023"], "the code", CEILING_S)
                network.feedback(True)
                assert conn.recv(2) == b"OK"
            running.halt()
    finally:
        listener.close()
    assert recorder.crashes == []


class LateLoop(ScannerLoop):
    """A loop held up between its wait and its timers, as a descheduled process is.

    While it is held up, the rest of a code arrives; its timers then run at a
    time past the partial code's idle deadline.
    """

    def __init__(self, pty: Pty, rest: bytes, late_s: float) -> None:
        super().__init__()
        self.pty, self.rest, self.late_s = pty, rest, late_s
        self.held_up = threading.Event()

    def _run_timers(self, now: float) -> None:
        if self.held_up.is_set():
            self.held_up.clear()
            self.pty.send(self.rest)
            with open(self.pty.link, "rb", buffering=0) as other:  # noqa: PTH123 - a tty
                poller = select.poll()
                poller.register(other.fileno(), select.POLLIN)
                assert poller.poll(CEILING_S * 1000), "the rest never reached the tty"
            now += self.late_s
        super()._run_timers(now)


def test_bytes_that_arrive_while_the_loop_is_held_up_continue_the_code(
    tmp_path: Path, loops: list[RunningLoop]
) -> None:
    pty = Pty(tmp_path / "scanner")
    recorder = Recorder()
    late = LateLoop(pty, b"-5678\r", late_s=1.0)
    running = RunningLoop(late)
    loops.append(running)
    each = scanner(str(pty.link), recorder, "s", idle_ms=100)
    running.loop.add(each, recorder.on_crash)
    poll(lambda: each.connected, "the scanner to connect", CEILING_S)
    pty.send(b"PART-1234")
    poll(lambda: each.deadline() is not None, "the partial code to be read", CEILING_S)
    late.held_up.set()
    running.loop.call_later(0.0, lambda: None)  # a turn of the loop: its timers run late
    poll(lambda: bool(recorder.codes("s")), "the code", CEILING_S)
    running.halt()
    pty.close()
    assert recorder.codes("s") == [b"PART-1234-5678"]
