"""A scanner as the ScannerLoop holds it: its phase, its back-off and its one timer."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from hardware.serial.ports import Port
from hardware.serial.reader import SerialScanner

RETRY_FIRST_S: Final = 0.25
# A scanner plugged back in is read again within this long (plus the open):
# the promise is two seconds. A failed open of a missing device is one cheap
# syscall, so trying every second costs nothing worth saving.
RETRY_MAX_S: Final = 1.0
# A connection that lasted at least this long counts as a success, and the next
# loss retries quickly again; one that drops sooner keeps backing off, so a
# port that opens and fails at once is not hammered four times a second.
STABLE_S: Final = 5.0

# (the scanner taken out, the error it raised); runs on the loop's thread.
CrashCallback = Callable[[SerialScanner, Exception], None]
# closed: waiting to (re)open; opening: on an opener thread; connecting: a
# network port waiting to be writable; open: being read; gone: left the loop.
Phase = Literal["closed", "opening", "connecting", "open", "gone"]


@dataclass(eq=False, slots=True)
class Member:
    """One scanner in the loop, and where it is in open, read, lose, reopen."""

    scanner: SerialScanner
    on_crash: CrashCallback
    phase: Phase = "closed"
    port: Port | None = None  # a network port while it connects (then the scanner holds it)
    fd: int | None = None  # registered in the selector
    due: float | None = None  # the one timer that counts (retry, flush, poll, connect)
    attempt: int = 0  # the open in flight whose result counts
    delay: float = RETRY_FIRST_S
    opened_at: float = 0.0
    left: threading.Event | None = None  # set once removed with its port closed

    def next_delay(self) -> float:
        """How long to wait before the next open; the one after waits twice as long."""
        delay = self.delay
        self.delay = min(delay * 2, RETRY_MAX_S)
        return delay

    def lost_at(self, now: float) -> None:
        """The port was lost: a connection that lasted retries quickly again."""
        if now - self.opened_at >= STABLE_S:
            self.delay = RETRY_FIRST_S


class MemberTimers:
    """Each member's one timer, in a heap; a timer replaced by a later one is skipped."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Member]] = []
        self._order = itertools.count()  # breaks ties between timers due at once

    def set(self, member: Member, when: float | None) -> None:
        """Make ``when`` the member's timer (None: no timer)."""
        if member.due == when:
            return
        member.due = when
        if when is not None:
            heapq.heappush(self._heap, (when, next(self._order), member))

    def next(self) -> float | None:
        """When the earliest timer is due (maybe one replaced since: an early wake-up)."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> Iterator[Member]:
        """The members whose timer is due at ``now``, each with its timer cleared."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, member = heapq.heappop(heap)
            if member.due != when or member.phase == "gone":
                continue  # replaced by a later timer, or left the loop
            member.due = None
            yield member
