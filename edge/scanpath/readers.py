"""Scanner readers built from config, each on its own thread.

Reading is I/O and never touches the database: a reader hands each complete
read to a callback that only enqueues it for the single writer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from edge.config import ScannerConfig
from edge.runtime.supervision import restart_with_backoff
from hardware.reads import ReadCallback, StateCallback


class ScannerReader(Protocol):
    def run(self, stop: threading.Event) -> None: ...

    def feedback(self, good: bool) -> None: ...


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


@dataclass
class RunningScanner:
    """A reader and the thread running it, restarted with back-off when it dies.

    A reader that raises (a bug in framing or decoding, a driver handing back
    something unexpected) is logged with its traceback and, after the back-off
    of :mod:`edge.runtime.supervision`, replaced by a fresh one from ``build``:
    a new reader starts with nothing of the dead one's partial code or state,
    and the dead one released its port when its ``run`` raised. Meanwhile the
    state is ``error`` with why it died and when it restarts.
    """

    config: ScannerConfig
    build: Callable[[], ScannerReader]
    reader: ScannerReader = field(init=False)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    state: str = "starting"
    detail: str = ""
    restarts: int = 0
    crashed: bool = False

    def __post_init__(self) -> None:
        self.reader = self.build()  # raises ValueError for settings no reader can take

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self._run, name=f"scanner-{self.config.id}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        restart_with_backoff(
            f"scanner {self.config.id} reader", self._read, self.stop, on_crash=self._crashed
        )

    def _read(self, stop: threading.Event) -> None:
        if self.crashed:
            self.crashed = False
            self.restarts += 1
            self.reader = self.build()
            self.state, self.detail = "starting", f"restarted after a crash ({self.restarts})"
        self.reader.run(stop)

    def _crashed(self, why: str, delay: float) -> None:
        self.crashed = True
        self.state, self.detail = "error", f"reader crashed: {why}; restart in {delay:g} s"

    def halt(self, timeout: float = 5.0) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout)
