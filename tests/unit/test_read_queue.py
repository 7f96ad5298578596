"""The queue between the readers and the writer: order, the bound, back-pressure."""

from __future__ import annotations

import queue
import threading

import pytest

from edge.scanpath.inbox import ReadQueue
from tests.broker import poll

CEILING_S = 10.0


def test_reads_come_out_in_the_order_they_went_in() -> None:
    reads: ReadQueue[int] = ReadQueue(10)
    assert all(reads.put(n) for n in range(5))
    assert reads.qsize() == 5
    assert [reads.get(timeout=1.0), *(reads.get_nowait() for _ in range(4))] == [0, 1, 2, 3, 4]
    with pytest.raises(queue.Empty):
        reads.get_nowait()
    with pytest.raises(queue.Empty):
        reads.get(timeout=0.01)


def test_a_reader_that_finds_the_queue_full_waits_for_the_writer_and_is_told() -> None:
    reads: ReadQueue[str] = ReadQueue(2)
    reads.put("a")
    reads.put("b")
    full: list[str] = []
    returned: list[bool] = []
    reader = threading.Thread(
        target=lambda: returned.append(reads.put("c", lambda: full.append("full")))
    )
    reader.start()
    poll(lambda: full == ["full"], "the reader to find the queue full")
    # Still waiting: nothing was taken, and the bound holds.
    reader.join(0.05)
    assert reader.is_alive()
    assert reads.qsize() == 2

    assert reads.get(timeout=1.0) == "a"
    reader.join(CEILING_S)
    assert not reader.is_alive()
    assert returned == [False]
    assert [reads.get_nowait(), reads.get_nowait()] == ["b", "c"]


def test_many_readers_against_a_small_bound_lose_nothing_and_keep_each_readers_order() -> None:
    reads: ReadQueue[tuple[int, int]] = ReadQueue(3)
    per_reader = 300
    readers = [
        threading.Thread(target=lambda r=r: [reads.put((r, n)) for n in range(per_reader)])
        for r in range(4)
    ]
    for reader in readers:
        reader.start()
    taken: list[tuple[int, int]] = []
    while len(taken) < 4 * per_reader:
        taken.append(reads.get(timeout=CEILING_S))
        assert reads.qsize() <= 3 + len(readers)  # readers look at the size without a lock
    for reader in readers:
        reader.join(CEILING_S)
    for r in range(4):
        assert [n for who, n in taken if who == r] == list(range(per_reader))


def test_a_queue_holds_at_least_one_read() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ReadQueue(0)
