"""Scanner readers built from config: serial ones on one shared loop, wedge ones on threads.

Reading is I/O and never touches the database: a reader hands each complete
read to a callback that only enqueues it for the single writer.

Serial and network scanners (any number of them) are read by one
:class:`~hardware.serial.loop.ScannerLoop` on one thread, which the
supervisor restarts with back-off if the loop itself dies. Keyboard-wedge
scanners keep a thread each (:class:`ThreadedScanner`). Either way a reader
that raises is logged with its traceback and, after the back-off of
:mod:`edge.runtime.supervision`, replaced by a fresh one from its ``build``:
a new reader starts with nothing of the dead one's partial code or state, and
the dead one's port was closed. Meanwhile the state is ``error`` with why it
died and when it restarts. :meth:`ScannerReaders.halt` stops any number of
them at once: every reader is told first, then all are waited for against one
deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from edge.config import ScannerConfig
from edge.runtime.supervision import RestartSchedule, Supervisor, log_death, restart_with_backoff
from hardware.reads import ReadCallback, StateCallback

if TYPE_CHECKING:
    from hardware.serial.loop import ScannerLoop
    from hardware.serial.reader import SerialScanner

log = logging.getLogger(__name__)

LOOP_NAME = "serial scanner loop"


class ScannerReader(Protocol):
    def feedback(self, good: bool) -> None: ...


@runtime_checkable
class ThreadedReader(ScannerReader, Protocol):
    """A reader that runs on a thread of its own until ``stop`` is set (keyboard wedge)."""

    def run(self, stop: threading.Event) -> None: ...


ReaderFactory = Callable[[ScannerConfig, ReadCallback, StateCallback], ScannerReader]


def build_reader(
    config: ScannerConfig, on_read: ReadCallback, on_state: StateCallback
) -> ScannerReader:
    """The hardware reader for one configured scanner (imports only what its kind needs)."""
    if config.kind == "serial":
        from hardware.serial.reader import SerialScanner  # noqa: PLC0415

        if config.url is None:  # validated in config; kept for the type checker
            raise ValueError(f"scanner {config.id}: serial scanner without url")
        return SerialScanner(
            config.id,
            config.url,
            baudrate=config.baudrate,
            bytesize=config.bytesize,
            parity=config.parity,
            stopbits=config.stopbits,
            rtscts=config.rtscts,
            xonxoff=config.xonxoff,
            terminator=config.terminator,
            idle_ms=config.idle_ms,
            max_length=config.max_length,
            feedback_good=config.feedback_good,
            feedback_bad=config.feedback_bad,
            on_read=on_read,
            on_state=on_state,
        )
    from hardware.evdev.match import DeviceMatch  # noqa: PLC0415
    from hardware.evdev.reader import EvdevScanner  # noqa: PLC0415

    match = DeviceMatch(
        device=config.device,
        name=config.name,
        vendor=config.vendor,
        product=config.product,
        serial=config.serial,
        phys=config.phys,
    )
    return EvdevScanner(
        config.id,
        match,
        layout=config.layout,
        suffix=config.suffix,
        idle_ms=config.idle_ms,
        max_length=config.max_length,
        grab=config.grab,
        on_read=on_read,
        on_state=on_state,
    )


class RunningScanner(ABC):
    """One configured scanner being read: its current reader, state and restarts."""

    def __init__(self, config: ScannerConfig, build: Callable[[], ScannerReader]) -> None:
        self.config = config
        self.build = build
        self.reader = build()  # raises ValueError for settings no reader can take
        self.state = "starting"
        self.detail = ""
        self.restarts = 0
        self.name = f"scanner {config.id} reader"

    @abstractmethod
    def start(self) -> None:
        """Start reading."""

    @abstractmethod
    def halt(self) -> None:
        """Tell the reader to stop (returns at once; :meth:`wait` waits for it)."""

    @abstractmethod
    def wait(self, deadline: float) -> bool:
        """Wait until the reader has stopped or ``deadline`` (monotonic) passed; True if it has."""

    def _crashed(self, why: str, delay: float) -> None:
        self.state, self.detail = "error", f"reader crashed: {why}; restart in {delay:g} s"

    def _rebuild(self) -> ScannerReader:
        """A fresh reader after a crash (the state says so until it reports its own)."""
        reader = self.build()
        self.restarts += 1
        self.state, self.detail = "starting", f"restarted after a crash ({self.restarts})"
        return reader


class ThreadedScanner(RunningScanner):
    """A reader on its own thread, restarted there with back-off when it dies."""

    def __init__(self, config: ScannerConfig, build: Callable[[], ScannerReader]) -> None:
        super().__init__(config, build)
        self.reader = self._threaded(self.reader)
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self._dead = False

    def _threaded(self, reader: ScannerReader) -> ThreadedReader:
        if not isinstance(reader, ThreadedReader):
            raise TypeError(f"scanner {self.config.id}: a reader with run(), not {reader!r}")
        return reader

    def start(self) -> None:
        self.thread = threading.Thread(
            target=restart_with_backoff,
            args=(self.name, self._read, self.stop),
            kwargs={"on_crash": self._on_crash},
            name=f"scanner-{self.config.id}",
            daemon=True,
        )
        self.thread.start()

    def _read(self, stop: threading.Event) -> None:
        if self._dead:
            self._dead = False
            self.reader = self._threaded(self._rebuild())
        self._threaded(self.reader).run(stop)

    def _on_crash(self, why: str, delay: float) -> None:
        self._dead = True
        self._crashed(why, delay)

    def halt(self) -> None:
        self.stop.set()

    def wait(self, deadline: float) -> bool:
        if self.thread is None:
            return True
        self.thread.join(max(0.0, deadline - time.monotonic()))
        return not self.thread.is_alive()


class LoopScanner(RunningScanner):
    """A serial or network reader on the shared loop; a crash is handled on the loop's thread."""

    def __init__(
        self, config: ScannerConfig, build: Callable[[], ScannerReader], loop: ScannerLoop
    ) -> None:
        super().__init__(config, build)
        self._loop = loop
        self._schedule = RestartSchedule(self.name)
        self._halted = False
        self._left: threading.Event | None = None
        self.reader = self._serial(self.reader)

    def _serial(self, reader: ScannerReader) -> SerialScanner:
        from hardware.serial.reader import SerialScanner  # noqa: PLC0415

        if not isinstance(reader, SerialScanner):
            raise TypeError(f"scanner {self.config.id}: a serial reader, not {reader!r}")
        return reader

    def start(self) -> None:
        self._schedule.started()
        self._loop.add(self._serial(self.reader), self._on_crash)

    def _on_crash(self, _reader: SerialScanner, error: Exception) -> None:
        why = log_death(self._schedule.name, error)
        delay = self._schedule.died()
        self._crashed(why, delay)
        self._loop.call_later(delay, self._restart)

    def _restart(self) -> None:
        if self._halted:
            return
        self._schedule.restarting()
        try:
            self.reader = self._serial(self._rebuild())
        except Exception as error:  # noqa: BLE001  # logged, and tried again after the back-off
            self._on_crash(self._serial(self.reader), error)
            return
        self.start()

    def halt(self) -> None:
        self._halted = True
        self._left = self._loop.remove(self._serial(self.reader))

    def wait(self, deadline: float) -> bool:
        if self._left is None:
            return True
        return self._left.wait(max(0.0, deadline - time.monotonic()))


class ScannerReaders:
    """Every scanner the daemon reads, by id; the serial loop starts with the first serial one."""

    def __init__(
        self,
        supervisor: Supervisor,
        factory: ReaderFactory,
        on_read: ReadCallback,
        on_state: StateCallback,
    ) -> None:
        self.running: dict[str, RunningScanner] = {}
        self._supervisor = supervisor
        self._factory = factory
        self._on_read = on_read
        self._on_state = on_state
        self._loop: ScannerLoop | None = None
        self._loop_stop = threading.Event()
        self._loop_thread: threading.Thread | None = None

    def start(self, config: ScannerConfig) -> None:
        """Start reading one configured scanner; a config no reader can take is logged."""

        def build() -> ScannerReader:
            return self._factory(config, self._on_read, self._on_state)

        try:
            running: RunningScanner
            if config.kind == "serial":
                running = LoopScanner(config, build, self._shared_loop())
            else:
                running = ThreadedScanner(config, build)
        except (ValueError, ImportError, TypeError) as error:
            log.error("scanner %s cannot start: %s", config.id, error)
            return
        self.running[config.id] = running
        running.start()

    def _shared_loop(self) -> ScannerLoop:
        if self._loop is None:
            from hardware.serial.loop import ScannerLoop  # noqa: PLC0415

            loop = ScannerLoop()
            self._loop_thread = self._supervisor.start_restarting(
                LOOP_NAME, loop.run, self._loop_stop, on_crash=loop.crashed
            )
            self._loop = loop
        return self._loop

    def halt(self, scanner_ids: Iterable[str], timeout: float) -> list[str]:
        """Stop these readers at once; the ids of those not stopped within ``timeout``."""
        halted = [self.running.pop(i) for i in scanner_ids if i in self.running]
        for running in halted:
            running.halt()
        deadline = time.monotonic() + timeout
        return [running.config.id for running in halted if not running.wait(deadline)]

    def halt_all(self, timeout: float) -> list[str]:
        """Stop every reader and the loop; the names of those still running after ``timeout``.

        The readers stay listed (with their last state and restarts).
        """
        deadline = time.monotonic() + timeout
        halted = list(self.running.values())
        for running in halted:
            running.halt()
        self._loop_stop.set()
        if self._loop is not None:
            self._loop.wake()  # the loop closes every port on its way out
        late = [running.config.id for running in halted if not running.wait(deadline)]
        if self._loop_thread is not None:
            self._loop_thread.join(max(0.0, deadline - time.monotonic()))
            if self._loop_thread.is_alive():
                late.append(LOOP_NAME)
        return late
