"""Types shared by every scanner adapter: one raw read, and the callbacks readers report through."""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable
from typing import NamedTuple


class RawRead(NamedTuple):
    """One complete read from a scanner, before any interpretation."""

    data: bytes  # the code's bytes (wedge: the decoded text encoded as UTF-8)
    monotonic: float  # time.monotonic() when the read completed
    truncated: bool = False  # the read exceeded max_length; data holds the first max_length bytes


# (scanner_id, read); must not block
ReadCallback = Callable[[str, RawRead], None]
# (scanner_id, state: "connected"|"disconnected"|"error", detail)
StateCallback = Callable[[str, str, str], None]


log = logging.getLogger(__name__)


class StateReporter:
    """Tells a reader's owner about the scanner's state changes, each once.

    A rescan or a retry loop must not repeat a state, nor may the steps of one
    absence ("device removed", then "waiting for ...") read as two
    disconnections; a different error is news. Not logged here: the owner logs
    what it is told, and logging in both places wrote every change twice.
    """

    def __init__(self, scanner_id: str, on_state: StateCallback) -> None:
        self._scanner_id = scanner_id
        self._on_state = on_state
        self.last: str | None = None  # the state last reported
        self._last_detail = ""
        # A serial scanner reports from its loop, from the thread opening its
        # port and, when the loop dies, from the loop's supervisor: each
        # change is told once, and in the order it was decided.
        self._lock = threading.Lock()

    def report(self, state: str, detail: str) -> None:
        with self._lock:
            if state == self.last and (state != "error" or detail == self._last_detail):
                return
            self.last, self._last_detail = state, detail
            try:
                self._on_state(self._scanner_id, state, detail)
            except Exception:
                log.exception("scanner %s: the state callback failed", self._scanner_id)


def wait_readable(fd: int, timeout_s: float) -> bool:
    """Whether ``fd`` can be read (or has failed) within ``timeout_s``.

    ``poll``, not ``select``: a box with a thousand scanners opens
    descriptors past 1023, which ``select`` refuses with ValueError. A hang-up
    or error counts as readable, so the read that follows reports it; a
    descriptor that is not open raises OSError.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    events = poller.poll(max(0, round(timeout_s * 1000)))
    if any(flags & select.POLLNVAL for _fd, flags in events):
        raise OSError(f"descriptor {fd} is not open")
    return bool(events)
