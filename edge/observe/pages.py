"""The pages' states, built on one thread for every open page, sent by each page's stream.

However many pages are open and however fast the writer commits, a station's
state is read and rendered once per burst of commits (the commits within
``SETTLE_S`` of the first make one build) and at least once a second (what
changes without a commit: scanners, the broker, the countdowns), and only
for the stations some page shows. All of it on this one thread, so the reads
and their allocations stay in one place; a page's stream only waits for its
station's next state and writes it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from edge.observe.signal import CommitSignal

TICK_S: Final = 1.0
SETTLE_S: Final = 0.05

Key = str | None  # a station's id; None: the overview
Build = Callable[[Key], dict[str, Any] | None]


class PagePublisher:
    def __init__(self, build: Build, signal: CommitSignal) -> None:
        self.build = build
        self.signal = signal
        self.stopping = threading.Event()
        self._changed = threading.Condition()
        self._watchers: Counter[Key] = Counter()
        self._bodies: dict[Key, tuple[int, bytes]] = {}
        self._serial = 0

    # --- the streams' side ----------------------------------------------------------
    def watch(self, key: Key) -> bool:
        """Count a page of ``key`` open; False when there is no such station."""
        with self._changed:
            known = key in self._bodies
        if not known:
            body = self._render(key)
            if body is None:
                return False
            self._publish(key, body)
        with self._changed:
            self._watchers[key] += 1
        return True

    def unwatch(self, key: Key) -> None:
        with self._changed:
            self._watchers[key] -= 1
            if self._watchers[key] <= 0:
                del self._watchers[key]
                self._bodies.pop(key, None)

    def next_body(self, key: Key, seen: int, timeout: float) -> tuple[int, bytes] | None:
        """The state of ``key`` newer than serial ``seen``; None after ``timeout`` or at a stop."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.stopping.is_set() or self._bodies.get(key, (seen, b""))[0] != seen,
                timeout,
            )
            found = self._bodies.get(key)
            if self.stopping.is_set() or found is None or found[0] == seen:
                return None
            return found

    def close(self) -> None:
        self.stopping.set()
        self.signal.notify()
        with self._changed:
            self._changed.notify_all()

    # --- the builder's side ---------------------------------------------------------
    def run(self) -> None:
        seen = self.signal.version
        while not self.stopping.is_set():
            version = self.signal.wait(seen, TICK_S)
            if version != seen and self.stopping.wait(SETTLE_S):
                return
            seen = self.signal.version
            with self._changed:
                keys = list(self._watchers)
            for key in keys:
                body = self._render(key)
                if body is not None:
                    self._publish(key, body)

    def _render(self, key: Key) -> bytes | None:
        state = self.build(key)
        return None if state is None else json.dumps(state).encode()

    def _publish(self, key: Key, body: bytes) -> None:
        with self._changed:
            current = self._bodies.get(key)
            if current is not None and current[1] == body:
                return
            self._serial += 1
            self._bodies[key] = (self._serial, body)
            self._changed.notify_all()
