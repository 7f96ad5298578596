"""The single writer: queued reads become committed scans, then operator feedback.

Readers put reads on a bounded queue and never wait for the database. The
writer takes whatever is waiting (up to a batch), debounces, decodes, and
commits the batch in one durable transaction, each scan all-or-nothing (see
:meth:`InventoryService.process_scans`), so under a burst one fsync covers
many scans. Good-read feedback is written as soon as that commit returns
(before the unit of work's bookkeeping and before the relay is woken to
publish what it committed), never earlier.

The writer's CPU per scan is the scan path's budget: :class:`StageCpu`
counts it by stage, and the writer logs the totals when it stops.

A lock held by another process (an import, a backup, a command-line
change) past the busy timeout is not a failure: the batch waits, unanswered,
and is committed and answered as soon as the lock is released.

When the database cannot be written (an I/O error, a full disk, free space
below ``database.min_free_mb``), the batch's scans get bad-read feedback at
once and wait in memory; as soon as writes succeed again they are journaled
as rejected / ``storage-unavailable`` — never silently dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from edge.domain.scanning import Debouncer, ScanInput, ScanOutcome
from edge.runtime.clock import SystemClock
from edge.runtime.logs import LoggedCode
from edge.scanpath.answering import Answer, Answering
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.space import FreeSpace
from edge.scanpath.stats import WriterStats
from edge.service import InventoryService, PendingScan, StoredInPart
from edge.store.database import driver_reason
from edge.store.revisions import DatabaseBusy, StorageError
from hardware.barcode import decode
from hardware.reads import RawRead

log = logging.getLogger(__name__)

MAX_BATCH = 128
MAX_UNSTORED = 100_000
RETRY_S = 1.0

# Told of every committed batch after its commit, on the writer's thread (the operations
# view's timings and commit signal, edge/observe/signal.py): it must not block.
Stored = Callable[[list[PendingScan], list[ScanOutcome]], None]


def _nothing(_pending: list[PendingScan], _outcomes: list[ScanOutcome]) -> None:
    return None


class QueuedRead(NamedTuple):
    scanner_id: str
    read: RawRead


@dataclass(frozen=True, slots=True)
class ScannerRoute:
    """Where a scanner's reads go and how they are cut and answered."""

    station: str
    prefix: bytes
    suffix: bytes
    debounce_s: float
    feedback: Callable[[bool], None]
    # A scanner that waits for the host's answer times out on a double read, which is
    # otherwise left unanswered: with this it hears good read (feedback_duplicate).
    answer_duplicates: bool = False


class ScanWriter:
    def __init__(
        self,
        service: InventoryService,
        reads: ReadQueue[QueuedRead],
        routes: Mapping[str, ScannerRoute],
        *,
        database_path: Path,
        min_free_mb: float,
        on_committed: Callable[[], None] = lambda: None,
        on_stored: Stored | None = None,
        clock: SystemClock | None = None,
    ) -> None:
        self.service = service
        self.reads = reads
        self.routes = dict(routes)
        self.on_committed = on_committed
        self.on_stored = on_stored or _nothing
        self.clock = clock or SystemClock()
        self.space = FreeSpace(database_path, min_free_mb, self.clock)
        self.stats = WriterStats()
        self._debouncers: dict[str, Debouncer] = {}
        self._unstored: deque[PendingScan] = deque()
        self._waiting: list[tuple[PendingScan, Answer]] = []
        self._waiting_since = 0.0
        self._lock = threading.Lock()

    def update_routes(self, routes: Mapping[str, ScannerRoute]) -> None:
        with self._lock:
            self.routes = dict(routes)

    def run(self, stop: threading.Event) -> None:
        """Process reads until ``stop`` is set and the queue is empty."""
        with self.service.holding_a_connection():
            self._run(stop)

    def _run(self, stop: threading.Event) -> None:
        while True:
            if self._waiting:
                # Each try waits up to the busy timeout inside SQLite; at a stop, one more.
                stopping = stop.is_set()
                self._retry_waiting()
                if stopping and self._waiting:
                    self._give_up_waiting()
                continue
            batch = self._take(timeout=0.2 if not self._unstored else RETRY_S)
            if batch:
                self.process(batch)
            elif stop.is_set():
                self._last_chance()
                log.info("writer: %s", self.stats.cpu.summary())
                return
            elif self._unstored:
                self.process(batch)

    def _last_chance(self) -> None:
        """On the way out, journal held scans; failing that, put them in the log.

        The free-space floor is not applied here: it keeps room for normal
        work, and a few rejected journal rows are what that room is for. If
        the database really cannot be written, the log is the only record left.
        """
        if not self._unstored:
            return
        try:
            self._journal_unstored()
        except StorageError as error:
            for item in self._unstored:
                scan = item.scan
                log.critical(
                    "scan NOT STORED (database unwritable at shutdown: %s): scanner %s, "
                    "station %s, read at %s, data %r",
                    error, scan.scanner, scan.station, scan.at.wall.isoformat(), scan.data,
                )  # fmt: skip

    def _take(self, timeout: float) -> list[QueuedRead]:
        try:
            first = self.reads.get(timeout=timeout)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self.reads.get_nowait())
            except queue.Empty:
                break
        return batch

    def process(self, batch: list[QueuedRead]) -> list[ScanOutcome]:
        """Journal and apply one batch; answer each scanner as soon as its scan is durable."""
        began = time.thread_time_ns()
        # Decoding is timed on the wall clock: a second CPU clock reading is a system
        # call, slow on a writer woken from idle, before the scan's commit. Decoding
        # neither blocks nor gives up Python's lock, so its wall time is its CPU time
        # unless the kernel preempts the thread; the stages still add up to the CPU.
        decoding = time.perf_counter_ns()
        with self._lock:
            routes = self.routes
        pending: list[PendingScan] = []
        answers: list[Answer] = []
        for item in batch:
            route = routes.get(item.scanner_id)
            if route is None:
                log.error("read from unknown scanner %s dropped from routing", item.scanner_id)
                continue
            read = self._pending(item, route)
            pending.append(read)
            # A double read is answered only by a scanner that waits for every answer.
            answers.append(route.feedback if not read.duplicate or route.answer_duplicates
                           else None)  # fmt: skip
        decoded = time.perf_counter_ns() - decoding
        self.stats.cpu.add("decode", decoded)
        return self._store(pending, answers, began + decoded)

    def _store(
        self, pending: list[PendingScan], answers: list[Answer], began: int
    ) -> list[ScanOutcome]:
        """Commit decoded scans: answered when stored, held when storage fails, kept when busy.

        ``began`` is the writer thread's CPU clock when this stage began (as
        far as the decode stage's wall-clock account tells). The
        operators are answered from inside the commit (:class:`Answering`);
        what follows it is counted as the log stage.
        """
        if not self.space.ok():
            self._hold(pending, answers, "free disk space is below database.min_free_mb")
            return []
        answering = Answering(answers, self._count)
        try:
            if self._unstored:
                self._journal_unstored()
            outcomes = self.service.process_scans(pending, answering)
        except StorageError as error:
            stored = error.outcomes if isinstance(error, StoredInPart) else []
            done = len(stored)
            self._finish(pending[:done], stored, self._account(began, answering, pending[:done]))
            if _lock_held_elsewhere(error):
                self._wait(pending[done:], answers[done:])
            else:
                self._hold(pending[done:], answers[done:], driver_reason(error.__cause__ or error))
            return stored
        self.stats.storage_ok = True
        self._finish(pending, outcomes, self._account(began, answering, pending))
        return outcomes

    def _account(self, began: int, answering: Answering, stored: list[PendingScan]) -> int:
        """Count the apply and feedback stages' CPU; return the thread's CPU clock now."""
        now = time.thread_time_ns()
        cpu = self.stats.cpu
        # Feedback is timed on the wall clock inside the commit, where a CPU clock
        # (a system call) would delay the answer; its writes hardly wait.
        cpu.add("apply", now - began - answering.feedback_ns)
        cpu.add("feedback", answering.feedback_ns)
        if stored:
            cpu.scans += len(stored)
            cpu.batches += 1
        return now

    def _wait(self, pending: list[PendingScan], answers: list[Answer]) -> None:
        """Keep scans the lock held elsewhere kept out: unanswered, committed on the next try.

        A lock is nothing the operator can see or change, so a valid scan is
        not refused for it: the operator's beep comes when the commit does.
        """
        if not pending:
            return
        if not self._waiting:
            # Since the oldest waiting scan was read: what its operator waits.
            self._waiting_since = min(item.scan.at.monotonic for item in pending)
            log.warning(
                "another process holds the database's write lock (%s); %d scan(s) wait and "
                "are answered when it is released",
                "an import, a backup or a command-line change", len(pending),
            )  # fmt: skip
        self._waiting = list(zip(pending, answers, strict=True))
        self.stats.waiting = len(self._waiting)

    def _retry_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        self._store([item for item, _ in waiting], [answer for _, answer in waiting],
                    time.thread_time_ns())  # fmt: skip
        if not self._waiting:
            self.stats.waiting = 0
            log.warning("the write lock was released: %d waiting scan(s) committed, the oldest "
                        "read %.1f s before", len(waiting),
                        self.clock.monotonic() - self._waiting_since)  # fmt: skip

    def _give_up_waiting(self) -> None:
        """At shutdown the lock is still held: the waiting scans are refused and held."""
        waiting, self._waiting = self._waiting, []
        self.stats.waiting = 0
        self._hold([item for item, _ in waiting], [answer for _, answer in waiting],
                   "the write lock was still held elsewhere at shutdown")  # fmt: skip

    def _finish(self, pending: list[PendingScan], outcomes: list[ScanOutcome], began: int) -> None:
        """After the operators were answered: wake the relay, tell the view, then log."""
        if outcomes:
            self.on_committed()
            self.on_stored(pending, outcomes)
        self._log_outcomes(pending, outcomes)
        self.stats.cpu.add("log", time.thread_time_ns() - began)

    def _pending(self, item: QueuedRead, route: ScannerRoute) -> PendingScan:
        debouncer = self._debouncers.get(item.scanner_id)
        if debouncer is None or debouncer.window_s != route.debounce_s:
            debouncer = self._debouncers[item.scanner_id] = Debouncer(route.debounce_s)
        read = item.read
        scan = ScanInput(
            scanner=item.scanner_id,
            station=route.station,
            data=read.data,
            at=self.clock.moment_at(read.monotonic),
            truncated=read.truncated,
        )
        duplicate = debouncer.is_duplicate(item.scanner_id, read.data, read.monotonic)
        return PendingScan(
            scan, decode(read.data, prefix=route.prefix, suffix=route.suffix), duplicate
        )

    def _hold(
        self,
        pending: list[PendingScan],
        answers: list[Answer],
        why: str,
    ) -> None:
        """Keep scans that could not be stored; tell each operator at once."""
        if self.stats.storage_ok or why != self.stats.last_error:
            log.error("database cannot be written (%s); scans are refused and kept in memory", why)
        self.stats.storage_ok = False
        self.stats.last_error = why
        for item, answer in zip(pending, answers, strict=True):
            if len(self._unstored) >= MAX_UNSTORED:
                log.critical("more than %d unstored scans; the oldest is dropped", MAX_UNSTORED)
                self._unstored.popleft()
            self._unstored.append(PendingScan(item.scan, item.barcode, item.duplicate,
                                              reject_reason="storage-unavailable"))  # fmt: skip
            if answer is not None:
                answer(False)
        self.stats.unstored = len(self._unstored)

    def _journal_unstored(self) -> None:
        held = list(self._unstored)
        try:
            outcomes = self.service.process_scans(held)
        except StoredInPart as error:
            # Those journaled stay journaled: only the rest are held for the next try.
            for _ in error.outcomes:
                self._unstored.popleft()
            self.on_stored(held, error.outcomes)
            self.stats.unstored = len(self._unstored)
            self.stats.rejected += len(error.outcomes)
            raise StorageError(str(error)) from error.__cause__
        self.on_stored(held, outcomes)
        self._log_outcomes(held, outcomes)
        log.warning("database writable again: %d held scans journaled as rejected", len(held))
        self._unstored.clear()
        self.stats.unstored = 0
        self.stats.rejected += len(held)

    def _log_outcomes(self, pending: list[PendingScan], outcomes: list[ScanOutcome]) -> None:
        """One INFO line per journaled scan, after its commit.

        The writer's CPU per scan is a budget: the level is checked once per
        batch, and the line is formatted (the code escaped) only if a handler
        writes it.
        """
        if not log.isEnabledFor(logging.INFO):
            return
        committed = self.clock.monotonic()
        for item, outcome in zip(pending, outcomes, strict=True):
            scan = item.scan
            log.info(
                "scan %d %s: station %s scanner %s reason %s, %.1f ms to commit; code %s",
                outcome.scan_id, outcome.status, scan.station, scan.scanner,
                outcome.reason or "-", (committed - scan.at.monotonic) * 1000,
                LoggedCode(scan.data),
            )  # fmt: skip

    def _count(self, outcome: ScanOutcome) -> None:
        if outcome.status == "accepted":
            self.stats.accepted += 1
        elif outcome.status == "duplicate":
            self.stats.duplicates += 1
        else:
            self.stats.rejected += 1


def _lock_held_elsewhere(error: StorageError) -> bool:
    """A lock wait (perhaps after some scans were stored), not a failure of the storage."""
    return isinstance(error, DatabaseBusy) or (isinstance(error, StoredInPart) and error.busy)
