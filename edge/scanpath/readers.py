"""Scanner readers built from config, each on its own thread.

Reading is I/O and never touches the database: a reader hands each complete
read to a callback that only enqueues it for the single writer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

from edge.config import ScannerConfig
from hardware.reads import ReadCallback, StateCallback

log = logging.getLogger(__name__)


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
    """A reader and the thread running it."""

    config: ScannerConfig
    reader: ScannerReader
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    state: str = "starting"
    detail: str = ""

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self._run, name=f"scanner-{self.config.id}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        try:
            self.reader.run(self.stop)
        except Exception:
            # A reader must never take the daemon down. Nothing restarts it yet: it stays
            # in state "error" until the daemon restarts or a reload changes this
            # scanner's settings (a reload leaves unchanged scanners alone).
            log.exception("scanner %s: reader stopped by an unexpected error", self.config.id)
            self.state, self.detail = "error", "reader crashed (see log)"

    def halt(self, timeout: float = 5.0) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout)
