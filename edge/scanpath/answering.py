"""Good-read feedback for a committed batch, given from inside its commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from edge.domain.scanning import ScanOutcome

# The writer's logger: a failed answer is the writer's to report, where operators look.
log = logging.getLogger("edge.scanpath.writer")

# A scanner's answer (good read or not); None when the read is not to be answered.
Answer = Callable[[bool], None] | None


class Answering:
    """Answers a batch's operators as the service reports each commit durable.

    Called on the writer's thread right after SQLite's COMMIT, before anything
    else (the relay, woken later, competes for the same core). A feedback
    that raises is logged, never let into the commit.
    """

    def __init__(self, answers: list[Answer], count: Callable[[ScanOutcome], None]) -> None:
        self._answers = answers
        self._count = count
        self._next = 0
        self.feedback_ns = 0

    def __call__(self, outcomes: Sequence[ScanOutcome]) -> None:
        began = time.perf_counter_ns()
        for outcome in outcomes:
            answer = self._answers[self._next]
            self._next += 1
            if answer is not None:  # a double read's only when its scanner waits for it
                try:
                    answer(outcome.good or outcome.status == "duplicate")
                except Exception:  # a feedback bug must not undo the bookkeeping of a commit
                    log.exception("good-read feedback for scan %d failed", outcome.scan_id)
            self._count(outcome)  # after the answer: the operator does not wait for a tally
        self.feedback_ns += time.perf_counter_ns() - began
