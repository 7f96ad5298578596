"""The reads on their way from the readers to the writer: bounded, and quick to wake the writer.

Every scan crosses from a reader's thread to the writer's, and at a station
scanning every few seconds both have been asleep long enough for the wake-up
to be slow. On the development machine a read handed over after 30 ms of
quiet reached a waiting ``queue.Queue`` consumer in 88 µs (median; its
Condition is Python code run on cold caches) and a ``queue.SimpleQueue``
consumer in 41 µs (one lock, in C), out of the 1 ms SPEC §9 allows a scan
above a raw durable commit. So the reads travel in a ``SimpleQueue``.

``SimpleQueue`` has no bound; :class:`ReadQueue` keeps one. A reader that
finds it full waits until the writer takes a read (back-pressure: the
scanner's own buffer holds what follows), so a stalled writer cannot grow
the daemon past its memory budget. Readers look at the size without a lock,
so two that look at once may both add: the queue holds at most ``maxsize``
plus one read per reader thread, which is all a memory bound needs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ReadQueue"]

T = TypeVar("T")

# A reader waiting for room looks again this often even if no wake-up came.
_ROOM_RECHECK_S = 1.0


class ReadQueue(Generic[T]):
    """A FIFO of reads, many producers and one consumer, bounded at about ``maxsize``."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("a read queue holds at least one read")
        self.maxsize = maxsize
        self._items: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._room = threading.Condition()
        self._waiting = 0  # readers waiting for room; read by the writer without the lock

    def put(self, item: T, when_full: Callable[[], None] | None = None) -> bool:
        """Queue ``item``; False when the queue was full and the reader had to wait.

        ``when_full`` is called before that wait (the daemon logs it).
        """
        if self._items.qsize() < self.maxsize:
            self._items.put(item)
            return True
        if when_full is not None:
            when_full()
        with self._room:
            # Counted before the size is looked at again, so a take that frees
            # room after that look sees a waiting reader and wakes it.
            self._waiting += 1
            try:
                while self._items.qsize() >= self.maxsize:
                    self._room.wait(_ROOM_RECHECK_S)
            finally:
                self._waiting -= 1
        self._items.put(item)
        return False

    def get(self, timeout: float | None = None) -> T:
        """The oldest read, waiting up to ``timeout`` s; raises ``queue.Empty`` after that."""
        item = self._items.get(timeout=timeout)
        self._made_room()
        return item

    def get_nowait(self) -> T:
        """The oldest read; raises ``queue.Empty`` when there is none."""
        item = self._items.get_nowait()
        self._made_room()
        return item

    def qsize(self) -> int:
        return self._items.qsize()

    def _made_room(self) -> None:
        if self._waiting:
            with self._room:
                self._room.notify_all()
