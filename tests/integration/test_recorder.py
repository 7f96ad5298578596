"""When the relay's answers are written: once a second, or in batches while a backlog drains.

A real migrated database; the recorder is not started, so each write runs on
the test's thread when :meth:`AnswerRecorder.record` decides it is due.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.publish.recorder import RECORD_BATCH, AnswerRecorder
from edge.store import schema
from tests.shop_floor import ShopFloor

ITEMS = "part,stocked,reorder_point,reorder_qty\nBOLT,true,5,20\n"


class Writes:
    """What the recorder reported: batches written, and failures."""

    def __init__(self) -> None:
        self.written = 0
        self.failed: list[SQLAlchemyError] = []

    def recorder(self, engine: Engine) -> AnswerRecorder:
        return AnswerRecorder(
            engine, wake=lambda: None, on_written=self._written, on_failed=self.failed.append
        )

    def _written(self) -> None:
        self.written += 1


def test_a_draining_backlog_is_written_every_batch_of_answers(db_engine: Engine) -> None:
    writes = Writes()
    recorder = writes.recorder(db_engine)
    for seq in range(1, RECORD_BATCH):
        recorder.published(seq)
    recorder.pace(reading_backlog=True, sent=False)
    recorder.record()
    assert (recorder.waiting, writes.written) == (RECORD_BATCH - 1, 0)
    recorder.published(RECORD_BATCH)
    recorder.pace(reading_backlog=True, sent=False)
    recorder.record()
    assert (recorder.waiting, writes.written, writes.failed) == (0, 1, [])


def test_the_rest_of_a_drain_is_written_once_nothing_is_in_flight(floor: ShopFloor) -> None:
    floor.load(ITEMS)
    for _ in range(3):
        floor.receive("BOLT", "1")
    seqs = [row.seq for row in floor.rows(schema.outbox)]
    writes = Writes()
    recorder = writes.recorder(floor.engine)
    recorder.pace(reading_backlog=True, sent=False)  # a full read: a backlog is draining
    for seq in seqs:
        recorder.published(seq)
    recorder.pace(reading_backlog=False, sent=False)  # read to the end, some still in flight
    recorder.record()
    assert (recorder.waiting, writes.written) == (len(seqs), 0)
    recorder.pace(reading_backlog=False, sent=True)
    recorder.record()
    assert (recorder.waiting, writes.written, writes.failed) == (0, 1, [])
    assert all(row.published_at is not None for row in floor.rows(schema.outbox))


def test_answers_outside_a_drain_wait_for_their_age(db_engine: Engine) -> None:
    writes = Writes()
    recorder = writes.recorder(db_engine)
    recorder.published(1)
    recorder.pace(reading_backlog=False, sent=True)  # a live event, answered
    recorder.record()
    assert (recorder.waiting, writes.written) == (1, 0)
    recorder.record(now=True)
    assert (recorder.waiting, writes.written) == (0, 1)
