"""A virtual keyboard (evdev.UInput) read through the real EvdevScanner, unplugged and back.

Needs /dev/uinput (kernel CONFIG_INPUT_UINPUT) with write access, and the right to read and
grab the new /dev/input/eventN node: root, or a user in group input with a udev rule for
uinput. Where that is missing the tests skip; the scanner's loop is covered there by
tests/unit/test_evdev_reader.py with a pipe-backed device.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware.reads import RawRead
from tests.broker import poll

UINPUT = "/dev/uinput"
CEILING_S = 10.0

pytestmark = pytest.mark.skipif(
    not Path(UINPUT).exists() or not os.access(UINPUT, os.W_OK),
    reason=(
        f"{UINPUT} is absent or not writable (kernel without CONFIG_INPUT_UINPUT, or no "
        "permission), so no virtual keyboard can be created; the reader loop is covered by "
        "tests/unit/test_evdev_reader.py with a pipe-backed device instead"
    ),
)

GS = "\x1d"


def make_keyboard(name: str):  # -> evdev.UInput
    from evdev import UInput
    from evdev import ecodes as e

    keys = [*range(e.KEY_ESC, e.KEY_KPDOT + 1), e.KEY_KPENTER]
    return UInput({e.EV_KEY: keys}, name=name, vendor=0x0C2E, product=0x0B61)


def type_text(keyboard, text: str) -> None:
    from evdev import ecodes as e

    def key(code: int, value: int) -> None:
        keyboard.write(e.EV_KEY, code, value)
        keyboard.syn()

    for char in text:
        if char == "\n":
            code, modifier = e.KEY_ENTER, None
        elif char == GS:
            code, modifier = e.KEY_RIGHTBRACE, e.KEY_LEFTCTRL
        elif char == "]":
            code, modifier = e.KEY_RIGHTBRACE, None
        else:
            code = e.ecodes[f"KEY_{char.upper()}"]
            modifier = e.KEY_LEFTSHIFT if char.isupper() else None
        if modifier is not None:
            key(modifier, 1)
        key(code, 1)
        key(code, 0)
        if modifier is not None:
            key(modifier, 0)


class Running:
    def __init__(self, name: str, **options) -> None:
        from hardware.evdev.match import DeviceMatch
        from hardware.evdev.reader import EvdevScanner

        self.reads: list[RawRead] = []
        self.states: list[tuple[str, str]] = []
        self.scanner = EvdevScanner(
            "uinput-test",
            DeviceMatch(name=name),
            on_read=lambda _sid, read: self.reads.append(read),
            on_state=lambda _sid, state, detail: self.states.append((state, detail)),
            **options,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.scanner.run, args=(self.stop,), daemon=True)

    def count(self, state: str) -> int:
        return sum(1 for s, _ in self.states if s == state)


@pytest.fixture
def name() -> str:
    return f"backflush-edge test scanner {os.getpid()}"


@pytest.fixture
def running(name: str) -> Iterator[Running]:
    run = Running(name, idle_ms=30_000)  # only Enter or an unplug ends a code here
    run.thread.start()
    yield run
    run.stop.set()
    run.thread.join(CEILING_S)
    assert not run.thread.is_alive()


def test_a_code_typed_on_a_virtual_keyboard_is_read(name, running):
    keyboard = make_keyboard(name)
    try:
        poll(lambda: running.count("connected") == 1, "connected", CEILING_S)
        type_text(keyboard, f"]C10109501101530003{GS}21ABC\n")
        poll(lambda: len(running.reads) == 1, "the read", CEILING_S)
        assert running.reads[0].data == b"]C10109501101530003\x1d21ABC"
    finally:
        keyboard.close()


def test_unplug_mid_code_and_return(name, running):
    keyboard = make_keyboard(name)
    try:
        poll(lambda: running.count("connected") == 1, "connected", CEILING_S)
        type_text(keyboard, "123")  # no Enter: a partial code
    finally:
        keyboard.close()  # unplugged mid-code
    poll(lambda: running.count("disconnected") >= 1, "disconnected", CEILING_S)
    keyboard = make_keyboard(name)  # plugged back in (a new eventN node)
    try:
        poll(lambda: running.count("connected") == 2, "reconnected", CEILING_S)
        type_text(keyboard, "456\n")
        poll(lambda: len(running.reads) == 1, "the read", CEILING_S)
        assert [read.data for read in running.reads] == [b"456"]
    finally:
        keyboard.close()
