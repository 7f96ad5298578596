"""Turns at SQLite's write lock for the threads of one process, in arrival order.

A thread that cannot get SQLite's write lock waits in SQLite's busy handler,
which retries after sleeps of up to 100 ms. The scan writer under a burst
commits back to back, with gaps of microseconds between its transactions, so
another writer of the same process (the relay recording PUBACKs, the outbox
purge) could wait seconds for a retry to land in a gap. Threads of one
process therefore queue here first, first come first served, and meet
SQLite's lock only when it is their turn; other processes (``edge scan``,
``edge receive``) still queue on SQLite's lock with the busy timeout.

A turn is always given back in a ``finally``; a thread may take a turn it
already holds (nested use) without waiting for itself.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine


class WriteTurns:
    """A fair, reentrant lock: tickets served in the order they were drawn."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self._owner: int | None = None
        self._depth = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        self.take()
        try:
            yield
        finally:
            self.give_back()

    @property
    def waiting(self) -> int:
        """Threads waiting for a turn (for tests and status)."""
        with self._changed:
            held = 1 if self._owner is not None else 0
            return self._next_ticket - self._serving - len(self._abandoned) - held

    def take(self) -> None:
        """Wait for this thread's turn (see :meth:`turn`); pair with :meth:`give_back`."""
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += 1
                return
            ticket = self._next_ticket
            self._next_ticket += 1
            # Nobody ahead is the scan writer's usual case: taken without a wait.
            if not self._served(ticket):
                try:
                    self._changed.wait_for(lambda: self._served(ticket))
                except BaseException:
                    # Interrupted while waiting: the ticket must not block those behind it.
                    self._abandoned.add(ticket)
                    self._skip_abandoned()
                    raise
            self._owner, self._depth = me, 1

    def _served(self, ticket: int) -> bool:
        """Whether it is ``ticket``'s turn (called with the condition's lock held)."""
        return self._serving == ticket and self._owner is None

    def give_back(self) -> None:
        with self._changed:
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            self._serving += 1
            self._skip_abandoned()

    def _skip_abandoned(self) -> None:
        while self._owner is None and self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._changed.notify_all()


_TURNS: weakref.WeakKeyDictionary[Engine, WriteTurns] = weakref.WeakKeyDictionary()
_TURNS_LOCK = threading.Lock()


def write_turn(engine: Engine) -> WriteTurns:
    """The turns of every thread writing through ``engine``."""
    with _TURNS_LOCK:
        turns = _TURNS.get(engine)
        if turns is None:
            turns = _TURNS[engine] = WriteTurns()
        return turns
