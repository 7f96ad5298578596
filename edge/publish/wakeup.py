"""The relay thread's one wait: the broker's socket and the wake-ups of other threads.

The relay thread drives paho's network loop itself, so it sleeps in
``poll()`` on the client's socket. Other threads (the scan writer after a
commit, the answer recorder after a write) must be able to end that sleep:
:meth:`Wakeup.set` writes a byte to a socket pair that the same ``poll()``
watches. ``poll()`` rather than ``select()``: a daemon reading 1,000
scanners holds descriptors past ``select()``'s 1,024.
"""

from __future__ import annotations

import contextlib
import select
import socket

_READ_EVENTS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP
_DRAIN_BYTES = 4096


class Wakeup:
    """A wait on one socket that any thread can end early with :meth:`set`.

    Made and waited on by one thread; :meth:`set` may be called from any.
    The byte is written only while the waiting thread sleeps (or is about to):
    a writer committing scan after scan does not pay a system call each time,
    which would hand Python's lock to the relay thread and back.
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self._reader, select.POLLIN)
        self._watched: int | None = None  # the descriptor watched besides the pair
        self._watched_mask = 0
        # _due: set() was called since the last wait returned. _sleeping: the
        # waiting thread is in (or entering) poll(). Each side writes its flag
        # before it reads the other's, so a set() is never missed.
        self._due = False
        self._sleeping = False

    def set(self) -> None:
        """End the current or the next :meth:`wait` now. Any thread."""
        self._due = True
        if self._sleeping:
            # Full pair buffer: a byte is waiting already. Closed: nobody waits.
            with contextlib.suppress(OSError):
                self._writer.send(b"\0")

    def wait(self, fd: int | None, *, write: bool, timeout: float) -> tuple[bool, bool]:
        """Sleep until ``fd`` is readable (or writable, with ``write``), a set() or ``timeout``.

        Returns (readable, writable) for ``fd``; a hang-up or error counts as
        readable, so the reader finds out. Returns at once after a set() that
        came since the last wait.
        """
        self._watch(fd, write)
        self._sleeping = True
        try:
            timeout_ms = 0 if self._due else max(0, round(timeout * 1000))
            events = self._poll.poll(timeout_ms)
        finally:
            self._sleeping = False
        self._due = False
        readable = writable = False
        for got, mask in events:
            if got == fd:
                readable = bool(mask & _READ_EVENTS)
                writable = bool(mask & select.POLLOUT)
            else:
                with contextlib.suppress(BlockingIOError):
                    self._reader.recv(_DRAIN_BYTES)
        return readable, writable

    def close(self) -> None:
        self._reader.close()
        self._writer.close()

    def _watch(self, fd: int | None, write: bool) -> None:
        mask = select.POLLIN | (select.POLLOUT if write else 0)
        if fd == self._watched and mask == self._watched_mask:
            return
        if self._watched is not None:
            # A closed descriptor may be gone from the poll set already.
            with contextlib.suppress(KeyError, OSError):
                self._poll.unregister(self._watched)
        self._watched = fd
        self._watched_mask = mask
        if fd is not None:
            self._poll.register(fd, mask)
