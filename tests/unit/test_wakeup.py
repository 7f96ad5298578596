"""The relay thread's wait: a real socket pair stands in for the broker's socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from edge.publish.wakeup import Wakeup

CEILING_S = 30.0  # a wait that should end early is given this long, and its thread as long
LONG_WAIT_S = 3600.0


@pytest.fixture
def wakeup() -> Iterator[Wakeup]:
    waiting = Wakeup()
    yield waiting
    waiting.close()


@pytest.fixture
def broker_side() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def _wait_in_thread(wakeup: Wakeup, fd: int | None, *, write: bool = False) -> list[object]:
    """Start a wait of an hour on another thread; its result lands in the returned list."""
    result: list[object] = []

    def wait() -> None:
        result.append(wakeup.wait(fd, write=write, timeout=LONG_WAIT_S))

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    result.append(thread)
    return result


def test_a_set_from_another_thread_ends_a_long_wait(wakeup: Wakeup) -> None:
    [thread, *_] = waiting = _wait_in_thread(wakeup, None)
    assert isinstance(thread, threading.Thread)
    # Set until the sleeper is reached: a set() before it sleeps is also a valid wake-up.
    deadline = time.monotonic() + CEILING_S
    while thread.is_alive() and time.monotonic() < deadline:
        wakeup.set()
        thread.join(0.05)
    assert waiting[1:] == [(False, False)]


def test_a_set_before_the_wait_ends_it_at_once_and_only_once(wakeup: Wakeup) -> None:
    wakeup.set()
    assert wakeup.wait(None, write=False, timeout=LONG_WAIT_S) == (False, False)
    # The set() was used up: the next wait sleeps its timeout out (here, none).
    assert wakeup.wait(None, write=False, timeout=0.0) == (False, False)


def test_bytes_from_the_broker_end_the_wait_as_readable(
    wakeup: Wakeup, broker_side: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = broker_side
    [thread, *_] = waiting = _wait_in_thread(wakeup, ours.fileno())
    theirs.send(b"\x40\x02\x00\x01")  # a PUBACK
    assert isinstance(thread, threading.Thread)
    thread.join(CEILING_S)
    assert waiting[1:] == [(True, False)]


def test_room_to_write_is_reported_only_when_asked_for(
    wakeup: Wakeup, broker_side: tuple[socket.socket, socket.socket]
) -> None:
    ours, _theirs = broker_side
    assert wakeup.wait(ours.fileno(), write=True, timeout=CEILING_S) == (False, True)
    assert wakeup.wait(ours.fileno(), write=False, timeout=0.0) == (False, False)


def test_a_closed_peer_counts_as_readable_so_the_reader_finds_out(
    wakeup: Wakeup, broker_side: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = broker_side
    theirs.close()
    readable, _writable = wakeup.wait(ours.fileno(), write=False, timeout=CEILING_S)
    assert readable
    assert ours.recv(1) == b""


def test_the_watched_socket_can_change_between_waits(wakeup: Wakeup) -> None:
    first, first_peer = socket.socketpair()
    second, second_peer = socket.socketpair()
    try:
        first_peer.send(b"x")
        assert wakeup.wait(first.fileno(), write=False, timeout=CEILING_S) == (True, False)
        # The first still has a byte unread; only the second is watched now.
        assert wakeup.wait(second.fileno(), write=False, timeout=0.0) == (False, False)
        second_peer.send(b"y")
        assert wakeup.wait(second.fileno(), write=False, timeout=CEILING_S) == (True, False)
    finally:
        for end in (first, first_peer, second, second_peer):
            end.close()
