"""A bounded map that forgets the least recently used entry first.

The catalog and the BOM explosions are read on demand and kept in these: a
50,000-item catalog held whole took some 50 MB of the daemon's 80 MB, while
the parts a plant scans in a day are a few thousand at most.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``capacity`` entries; a hit costs one lookup and one move.

    Safe to share between threads: a hit touches the order without a lock (a
    concurrent eviction at worst loses that touch), changes take the lock.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            try:  # noqa: SIM105 - the hot path: contextlib.suppress costs more than the lookup
                self._entries.move_to_end(key)
            except KeyError:  # evicted by another thread in between
                pass
        return value

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key``; it is returned for chaining."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return value

    def update(self, items: Iterable[tuple[K, V]]) -> None:
        """Keep every (key, value) in order, under one take of the lock."""
        entries, move = self._entries, self._entries.move_to_end
        with self._lock:
            for key, value in items:
                entries[key] = value
                move(key)
            while len(entries) > self.capacity:
                entries.popitem(last=False)
