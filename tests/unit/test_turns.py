"""Turns at the write lock: first come, first served; nested use; an interrupted waiter."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest

from edge.store.turns import WriteTurns

CEILING_S = 10.0


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + CEILING_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def _hold(turns: WriteTurns, release: threading.Event, held: threading.Event) -> threading.Thread:
    def holder() -> None:
        with turns.turn():
            held.set()
            release.wait(CEILING_S)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(CEILING_S)
    return thread


def test_waiting_threads_get_their_turns_in_arrival_order() -> None:
    turns = WriteTurns()
    release, held = threading.Event(), threading.Event()
    holder = _hold(turns, release, held)
    order: list[int] = []

    def writer(index: int) -> None:
        with turns.turn():
            order.append(index)

    threads = []
    for index in range(5):
        thread = threading.Thread(target=writer, args=(index,))
        thread.start()
        threads.append(thread)
        _until(lambda n=index + 1: turns.waiting == n, f"writer {index} to queue")
    release.set()
    for thread in [holder, *threads]:
        thread.join(CEILING_S)
    assert order == [0, 1, 2, 3, 4]
    assert turns.waiting == 0


def test_a_thread_holding_a_turn_can_take_it_again() -> None:
    turns = WriteTurns()
    with turns.turn(), turns.turn():
        assert turns.waiting == 0
    taken = threading.Event()

    def other_writer() -> None:
        with turns.turn():
            taken.set()

    other = threading.Thread(target=other_writer)
    other.start()
    other.join(CEILING_S)
    assert taken.is_set()  # the nested turns were all given back


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_an_interrupted_waiter_does_not_block_those_behind_it() -> None:
    turns = WriteTurns()
    release, held = threading.Event(), threading.Event()
    holder = _hold(turns, release, held)
    later_got_turn = threading.Event()

    def later() -> None:
        with turns.turn():
            later_got_turn.set()

    def queue_behind_then_interrupt() -> None:
        _until(lambda: turns.waiting == 1, "the main thread to queue")
        behind = threading.Thread(target=later)
        behind.start()
        _until(lambda: turns.waiting == 2, "a second waiter to queue")
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)

    def interrupt(_signum: int, _frame: object) -> None:
        raise InterruptedError("stop waiting")

    previous = signal.signal(signal.SIGUSR1, interrupt)
    helper = threading.Thread(target=queue_behind_then_interrupt)
    helper.start()
    try:
        with pytest.raises(InterruptedError), turns.turn():
            pytest.fail("the interrupted waiter must not get a turn")
    finally:
        signal.signal(signal.SIGUSR1, previous)
    release.set()
    assert later_got_turn.wait(CEILING_S)
    for thread in (holder, helper):
        thread.join(CEILING_S)
    assert turns.waiting == 0
