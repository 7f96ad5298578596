"""The broker's answers, written to the outbox in batches: many PUBACKs, one short commit.

Batches are written on a helper thread, one at a time, while the relay goes on
publishing; a batch that fails is taken back and written with the next (see
"Short writes" in :mod:`edge.publish`). An answer lost with a crash before it
is written only means that row is sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.store import outbox

RECORD_EVERY_S = 1.0  # answers are written in batches at most this old (one commit each)
RECORD_BATCH = 1000  # while a backlog drains, its answers are written this many at a time


@dataclass(frozen=True, slots=True)
class Answers:
    """Broker answers to write in one transaction (see :func:`outbox.record_answers`)."""

    published: list[int]
    refused: dict[int, str]
    stock: dict[str, int]

    def write(self, engine: Engine) -> None:
        outbox.record_answers(
            engine,
            published=self.published,
            refused=self.refused,
            stock=self.stock,
            at=datetime.now(UTC),
        )


class AnswerRecorder:
    """The broker's answers not yet written, and the thread that writes them in batches.

    Used from the relay thread only. Between :meth:`start` and :meth:`close`
    batches are written on the helper thread; otherwise :meth:`record` writes
    them itself. ``wake`` is called when a write on the helper thread ends,
    ``on_written`` after each batch written, ``on_failed`` with the error of a
    batch that could not be.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        wake: Callable[[], None],
        on_written: Callable[[], None],
        on_failed: Callable[[SQLAlchemyError], None],
    ) -> None:
        self._engine = engine
        self._wake = wake
        self._on_written = on_written
        self._on_failed = on_failed
        # Answers not yet written to the database (kept if a write fails).
        self._published: list[int] = []
        self._refused: dict[int, str] = {}
        self._stock: dict[str, int] = {}
        self._due: float | None = None  # when the oldest unwritten answer is due
        self._draining = False  # see pace()
        # The helper thread, the batch it is writing, and that write.
        self._thread: ThreadPoolExecutor | None = None
        self._writing: Future[None] | None = None
        self._batch: Answers | None = None

    @property
    def waiting(self) -> int:
        """Events answered whose answers are not yet written (nor being written)."""
        return len(self._published) + len(self._refused)

    @property
    def idle(self) -> bool:
        """No answer waits to be written and no write is in progress."""
        return self._due is None and self._writing is None

    def wait_s(self, ceiling: float) -> float:
        """How long the relay may sleep before :meth:`record` has a batch to write."""
        if self._due is not None and self._writing is None:
            return min(ceiling, max(0.0, self._due - time.monotonic()))
        return ceiling

    def start(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-record")

    def close(self) -> None:
        """Write what is left, then end the helper thread."""
        self.record(now=True)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    # --- answers as they come in -----------------------------------------------------
    def answered(self) -> None:
        """An answer came in: a batch is due within RECORD_EVERY_S."""
        if self._due is None:
            self._due = time.monotonic() + RECORD_EVERY_S

    def published(self, seq: int) -> None:
        self.answered()
        self._published.append(seq)
        self._refused.pop(seq, None)

    def refused(self, seq: int, error: str) -> None:
        self.answered()
        self._refused[seq] = error

    def stock_published(self, part: str, version: int) -> None:
        self.answered()
        self._stock[part] = max(version, self._stock.get(part, 0))

    def pace(self, *, reading_backlog: bool, sent: bool) -> None:
        """While a backlog drains, write its answers every RECORD_BATCH rows, and the
        rest as soon as it is sent (nothing in flight).

        ``reading_backlog``: the relay's last read of the outbox was full.
        Other answers wait up to RECORD_EVERY_S, so a line scanning at its
        normal pace costs one relay commit a second (each such commit makes
        the scan writer read its pages again). A drain's rows are marked sent
        in short commits soon after their PUBACKs, and a crash after a drain
        does not send it all again.
        """
        if reading_backlog:
            self._draining = True
            if self.waiting >= RECORD_BATCH:
                self._hurry()
        elif self._draining and sent:
            self._draining = False
            self._hurry()

    def _hurry(self) -> None:
        if self._due is not None:
            self._due = min(self._due, time.monotonic())

    # --- writing ---------------------------------------------------------------------
    def record(self, *, now: bool = False) -> None:
        """Write the answers once the oldest is RECORD_EVERY_S old (or ``now``).

        The write runs on the helper thread while the relay goes on; ``now``
        waits for a write in progress and writes the rest before returning.
        """
        self._collect_write(wait=now)
        if self._writing is not None:  # one batch at a time; answers keep gathering
            return
        if self._due is None:
            return
        if not now and time.monotonic() < self._due:
            return
        batch = Answers(self._published, self._refused, self._stock)
        self._published = []
        self._refused = {}
        self._stock = {}
        self._due = None
        if now or self._thread is None:
            try:
                batch.write(self._engine)
            except SQLAlchemyError as error:
                self._take_back(batch)
                self._on_failed(error)
                return
            self._on_written()
            return
        self._batch = batch
        self._writing = self._thread.submit(batch.write, self._engine)
        self._writing.add_done_callback(lambda _done: self._wake())

    def _collect_write(self, *, wait: bool) -> None:
        """The outcome of the helper thread's write, once it is done (or ``wait`` for it)."""
        writing, batch = self._writing, self._batch
        if writing is None or batch is None or not (wait or writing.done()):
            return
        self._writing = None
        self._batch = None
        try:
            writing.result()
        except SQLAlchemyError as error:
            self._take_back(batch)
            self._on_failed(error)
            return
        self._on_written()

    def _take_back(self, batch: Answers) -> None:
        """A batch that could not be written: keep it, ahead of newer answers, due now."""
        accepted_since = set(self._published)
        self._published = batch.published + self._published
        self._refused = {
            seq: error for seq, error in batch.refused.items() if seq not in accepted_since
        } | self._refused
        for part, version in batch.stock.items():
            self._stock[part] = max(version, self._stock.get(part, 0))
        self._due = time.monotonic()
