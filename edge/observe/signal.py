"""What the scan writer tells the operations view after each commit, and nothing more.

The writer's thread calls :meth:`ScanTimings.stored` once per committed batch:
a few additions and one ``notify_all``, never a query, never a wait. Pages and
scrapes read the journal on their own threads (:mod:`edge.observe.journal`).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.service import PendingScan

# Read to commit, in seconds: a scan answered within 50 ms is what an operator expects.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Scans per commit (the writer's MAX_BATCH is 128).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class CommitSignal:
    """A version number raised at every commit; readers wait for it to move."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.version = 0

    def notify(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """The version once it is past ``seen``, or as it is after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout)
            return self.version


@dataclass
class Histogram:
    """Cumulative-ready bucket counts, as Prometheus shows them."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    observed: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.observed += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count at or below) per bucket, +Inf last."""
        running = 0
        result = []
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            result.append((bound, running))
        return result


class ScanTimings:
    """Commit latency and batch size, observed on the writer's thread after its commit."""

    def __init__(
        self, signal: CommitSignal, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.signal = signal
        self.monotonic = monotonic
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch = Histogram(BATCH_BUCKETS)
        # Monotonic; the start counts as one, so a writer that never commits is noticed too.
        self.last_commit = monotonic()
        self._lock = threading.Lock()

    def stored(self, pending: Sequence[PendingScan], outcomes: Sequence[object]) -> None:
        """A batch committed: its scans' read-to-commit times, its size; then wake the readers."""
        now = self.monotonic()
        with self._lock:
            for item in pending[: len(outcomes)]:
                self.latency.observe(max(now - item.scan.at.monotonic, 0.0))
            self.batch.observe(len(outcomes))
            self.last_commit = now
        self.signal.notify()

    def copy(self) -> tuple[Histogram, Histogram, float]:
        """The two histograms and the last commit's time, as of now (for a scrape)."""
        with self._lock:
            return (
                Histogram(self.latency.bounds, list(self.latency.counts),
                          self.latency.total, self.latency.observed),
                Histogram(self.batch.bounds, list(self.batch.counts),
                          self.batch.total, self.batch.observed),
                self.last_commit,
            )  # fmt: skip
