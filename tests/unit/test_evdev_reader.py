"""EvdevScanner through unplugs, permission and grab problems, with a pipe-backed device.

The device layer is faked by subclassing the reader's own Protocols (DeviceSource,
EventDevice, HotplugWatch): the fake device is a real pipe, so the scanner's select loop,
idle flush and error handling run unchanged. The real evdev path is exercised by
tests/integration/test_uinput.py where /dev/uinput exists.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import pytest
from evdev import InputEvent
from evdev import ecodes as e

from hardware.devices import InputDeviceInfo
from hardware.evdev.device import DeviceSource, EventDevice, HotplugWatch
from hardware.evdev.keymap import KeymapError, xkb_available
from hardware.evdev.match import DeviceMatch
from hardware.evdev.reader import EvdevScanner
from hardware.evdev.wedge import InputEventLike
from hardware.reads import RawRead

CEILING_S = 10.0
NAME = "Honeywell Imaging & Mobility 1900"


def info(devnode: str = "/dev/input/event5", port: str = "2", **fields) -> InputDeviceInfo:
    values = {
        "devnode": devnode,
        "name": NAME,
        "bustype": 3,
        "vendor": 0x0C2E,
        "product": 0x0B61,
        "serial": "",
        "phys": f"usb-0000:00:14.0-{port}/input0",
        "by_id": (),
        "by_path": (),
        "readable": True,
        "has_text_keys": True,
    }
    values.update(fields)
    return InputDeviceInfo(**values)


def typed(text: str) -> list[InputEvent]:
    """Events for digits and upper-case letters, stamped on the monotonic clock, 1 ms apart."""
    events = []
    t = time.monotonic()

    def add(code: int, value: int) -> None:
        nonlocal t
        t += 0.001
        sec = int(t)
        usec = int((t - sec) * 1e6)
        events.append(InputEvent(sec, usec, e.EV_KEY, code, value))
        events.append(InputEvent(sec, usec, e.EV_SYN, e.SYN_REPORT, 0))

    for char in text:
        if char == "\n":
            add(e.KEY_ENTER, 1)
            add(e.KEY_ENTER, 0)
            continue
        shift = char.isupper()
        if shift:
            add(e.KEY_LEFTSHIFT, 1)
        add(e.ecodes[f"KEY_{char.upper()}"], 1)
        add(e.ecodes[f"KEY_{char.upper()}"], 0)
        if shift:
            add(e.KEY_LEFTSHIFT, 0)
    return events


class PipeDevice(EventDevice):
    """An open input device whose events the test pushes; readable through a real pipe."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.pending: deque[InputEvent] = deque()
        self.gone = False
        self.closed = False

    def fileno(self) -> int:
        return self._r

    def push(self, events: list[InputEvent]) -> None:
        self.pending.extend(events)
        os.write(self._w, b"!")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._w, b"!")

    def read_events(self) -> Sequence[InputEventLike]:
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        with contextlib.suppress(BlockingIOError):
            os.read(self._r, 4096)
        events = []
        while self.pending:
            events.append(self.pending.popleft())
        if not events:
            raise BlockingIOError(errno.EAGAIN, "no events")
        return events

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._r)
            os.close(self._w)


class FakeWatch(HotplugWatch):
    def __init__(self, source: FakeSource) -> None:
        self.source = source

    def wait(self, timeout: float, stop: threading.Event) -> None:
        end = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < end:
            if self.source.changed.wait(0.01):
                self.source.changed.clear()
                return

    def close(self) -> None:
        self.source.calls.append("watch closed")


class FakeSource(DeviceSource):
    def __init__(self, *devices: InputDeviceInfo) -> None:
        self.present = {d.devnode: d for d in devices}
        self.lock = threading.Lock()  # the test thread plugs while the scanner lists
        self.open_error: OSError | None = None
        self.opened: list[PipeDevice] = []
        self.calls: list[str] = []
        self.changed = threading.Event()

    def watch(self) -> HotplugWatch:
        self.calls.append("watch")
        return FakeWatch(self)

    def devices(self) -> list[InputDeviceInfo]:
        self.calls.append("devices")
        with self.lock:
            return list(self.present.values())

    def open(self, devnode: str, *, grab: bool) -> EventDevice:
        self.calls.append(f"open {devnode} grab={grab}")
        if self.open_error is not None:
            raise self.open_error
        device = PipeDevice()
        self.opened.append(device)
        return device

    def plug(self, device: InputDeviceInfo) -> None:
        with self.lock:
            self.present[device.devnode] = device
        self.changed.set()

    def unplug(self, devnode: str) -> None:
        with self.lock:
            del self.present[devnode]
        self.opened[-1].unplug()
        self.changed.set()


class Harness:
    """Runs a scanner in a thread and records what it reports."""

    def __init__(self, source: FakeSource, match: DeviceMatch | None = None, **options) -> None:
        self.reads: list[RawRead] = []
        self.states: list[tuple[str, str]] = []
        self.source = source
        self.scanner = EvdevScanner(
            "pack-1-hid",
            match or DeviceMatch(name=NAME),
            on_read=lambda sid, read: self.reads.append(read),
            on_state=lambda sid, state, detail: self.states.append((state, detail)),
            source=source,
            **options,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.scanner.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Harness:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(CEILING_S)
        assert not self.thread.is_alive(), "run() did not return after stop"

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        end = time.monotonic() + CEILING_S
        while not condition():
            assert time.monotonic() < end, f"timed out waiting for {what}: {self.states}"
            time.sleep(0.005)

    def wait_state(self, state: str, containing: str = "") -> str:
        def seen() -> bool:
            return any(s == state and containing in d for s, d in self.states)

        self.wait_for(f"state {state} {containing!r}", seen)
        return next(d for s, d in self.states if s == state and containing in d)

    def wait_reads(self, count: int) -> list[bytes]:
        self.wait_for(f"{count} reads", lambda: len(self.reads) >= count)
        return [read.data for read in self.reads]

    def wait_consumed(self, device: PipeDevice) -> None:
        self.wait_for("events read", lambda: not device.pending)


def test_reads_codes_and_watches_before_listing():
    source = FakeSource(info())
    with Harness(source) as h:
        assert "/dev/input/event5" in h.wait_state("connected")
        h.wait_for("open", lambda: bool(source.opened))
        source.opened[0].push(typed("AB12\n"))
        assert h.wait_reads(1) == [b"AB12"]
        source.opened[0].push(typed("C3\n"))
        assert h.wait_reads(2) == [b"AB12", b"C3"]
    assert source.calls[0] == "watch"  # the watch starts before the first listing
    assert source.calls[1] == "devices"
    assert "open /dev/input/event5 grab=True" in source.calls
    assert source.calls[-1] == "watch closed"
    assert source.opened[0].closed
    assert h.states[-1] == ("disconnected", "stopped")


def test_grab_can_be_turned_off():
    source = FakeSource(info())
    with Harness(source, grab=False) as h:
        h.wait_state("connected")
    assert "open /dev/input/event5 grab=False" in source.calls


def test_unplug_mid_code_discards_the_partial_and_the_device_is_reopened_on_return():
    source = FakeSource(info())
    with Harness(source, idle_ms=60_000) as h:  # only the unplug can end the partial code
        h.wait_state("connected")
        first = source.opened[0]
        first.push(typed("123"))
        h.wait_consumed(first)
        source.unplug("/dev/input/event5")
        h.wait_state("disconnected", "device removed")
        h.wait_for("close", lambda: first.closed)
        source.plug(info())
        h.wait_for("reopen", lambda: len(source.opened) == 2)
        source.opened[1].push(typed("456\n"))
        assert h.wait_reads(1) == [b"456"]
    connected = [state for state in h.states if state[0] == "connected"]
    assert len(connected) == 2


def test_device_that_returns_under_another_node_is_found_again():
    source = FakeSource(info())
    with Harness(source) as h:
        h.wait_state("connected", "event5")
        source.unplug("/dev/input/event5")
        h.wait_state("disconnected")
        source.plug(info("/dev/input/event9"))
        h.wait_state("connected", "event9")
        source.opened[1].push(typed("7\n"))
        assert h.wait_reads(1) == [b"7"]


def test_missing_device_is_waited_for_and_reported_once():
    source = FakeSource()
    with Harness(source) as h:
        h.wait_state("disconnected", "waiting for name")
        for _ in range(3):  # several rescans find nothing
            listed = source.calls.count("devices")
            source.changed.set()
            h.wait_for("rescan", lambda n=listed: source.calls.count("devices") > n)
        assert len(h.states) == 1
        source.plug(info())
        h.wait_state("connected")


def test_permission_denied_names_the_group_and_the_udev_rule_then_recovers():
    source = FakeSource(info("/dev/null"))
    source.open_error = PermissionError(errno.EACCES, "Permission denied")
    with Harness(source) as h:
        detail = h.wait_state("error")
        assert "EACCES" in detail
        assert "group 'input'" in detail  # /dev/null belongs to root: the advice is input
        assert "SupplementaryGroups=input" in detail
        assert 'ATTRS{idVendor}=="0c2e", ATTRS{idProduct}=="0b61"' in detail
        assert "udevadm" in detail
        source.open_error = None  # the user was added to the group / the rule installed
        source.changed.set()
        h.wait_state("connected")


def test_device_grabbed_by_another_program_is_reported_as_busy():
    source = FakeSource(info())
    source.open_error = OSError(errno.EBUSY, "Device or resource busy")
    with Harness(source) as h:
        detail = h.wait_state("error")
        assert "EBUSY" in detail
        assert "another program" in detail
        source.open_error = None
        source.changed.set()
        h.wait_state("connected")


def test_two_matching_scanners_are_an_error_that_proposes_phys_or_by_path():
    source = FakeSource(info("/dev/input/event5", "2"), info("/dev/input/event6", "3"))
    with Harness(source) as h:
        detail = h.wait_state("error")
        assert "2 input devices match" in detail
        assert "event5" in detail
        assert "event6" in detail
        assert "by-path" in detail
    assert not source.opened


def test_a_second_node_without_text_keys_does_not_make_a_match_ambiguous():
    consumer = info("/dev/input/event6", has_text_keys=False)
    source = FakeSource(info(), consumer)
    with Harness(source) as h:
        assert "event5" in h.wait_state("connected")


def test_no_suffix_code_is_flushed_after_the_idle_gap():
    source = FakeSource(info())
    with Harness(source, suffix="none", idle_ms=50) as h:
        h.wait_state("connected")
        source.opened[0].push(typed("4006381333931"))
        assert h.wait_reads(1) == [b"4006381333931"]


def test_length_cap_reaches_the_read():
    source = FakeSource(info())
    with Harness(source, max_length=4) as h:
        h.wait_state("connected")
        source.opened[0].push(typed("123456\n"))
        h.wait_reads(1)
        assert h.reads[0] == RawRead(b"1234", h.reads[0].monotonic, truncated=True)


def test_a_failing_read_callback_does_not_stop_the_reader():
    source = FakeSource(info())
    reads: list[bytes] = []

    def on_read(scanner_id: str, read: RawRead) -> None:
        reads.append(read.data)
        if len(reads) == 1:
            raise RuntimeError("consumer bug")

    scanner = EvdevScanner(
        "s",
        DeviceMatch(name=NAME),
        on_read=on_read,
        on_state=lambda *_: None,
        source=source,
    )
    stop = threading.Event()
    thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        end = time.monotonic() + CEILING_S
        while not source.opened:
            assert time.monotonic() < end
            time.sleep(0.005)
        source.opened[0].push(typed("1\n2\n"))
        while len(reads) < 2:
            assert time.monotonic() < end
            time.sleep(0.005)
        assert reads == [b"1", b"2"]
    finally:
        stop.set()
        thread.join(CEILING_S)
    assert not thread.is_alive()


def test_feedback_is_a_no_op():
    scanner = EvdevScanner(
        "s",
        DeviceMatch(name=NAME),
        on_read=lambda *_: None,
        on_state=lambda *_: None,
        source=FakeSource(),
    )
    scanner.feedback(True)
    scanner.feedback(False)


def test_settings_are_checked_when_the_scanner_is_built():
    def build(**options) -> EvdevScanner:
        return EvdevScanner(
            "s",
            DeviceMatch(name=NAME),
            on_read=lambda *_: None,
            on_state=lambda *_: None,
            source=FakeSource(),
            **options,
        )

    with pytest.raises(ValueError, match="suffix"):
        build(suffix="crlf")
    with pytest.raises(ValueError, match="idle_ms"):
        build(idle_ms=0)
    with pytest.raises(KeymapError):
        build(layout="not a layout")
    if xkb_available():
        assert build(layout="de") is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "one of device, name"),
        ({"vendor": 0x0C2E}, "together"),
        ({"serial": "X", "name": NAME}, "vendor and product"),
    ],
)
def test_device_match_needs_a_usable_key(fields, message):
    with pytest.raises(ValueError, match=message):
        DeviceMatch(**fields)


def test_device_match_requires_every_given_field():
    device = info(serial="S1")
    assert DeviceMatch(vendor=0x0C2E, product=0x0B61).matches(device)
    assert DeviceMatch(vendor=0x0C2E, product=0x0B61, serial="S1").matches(device)
    assert not DeviceMatch(vendor=0x0C2E, product=0x0B61, serial="S2").matches(device)
    assert not DeviceMatch(vendor=0x0C2E, product=0x0B62).matches(device)
    assert DeviceMatch(phys="usb-0000:00:14.0-2/input0").matches(device)
    assert not DeviceMatch(phys="usb-0000:00:14.0-3/input0").matches(device)
    assert "vendor:product 0c2e:0b61" in DeviceMatch(vendor=0x0C2E, product=0x0B61).describe()


def test_stop_lets_a_code_being_typed_finish_by_the_idle_gap():
    source = FakeSource(info())
    h = Harness(source, suffix="none", idle_ms=200)
    with h:
        h.wait_state("connected")
        source.opened[0].push(typed("55"))
        h.wait_consumed(source.opened[0])
    # run() has returned (the harness joined it): the code was finished, not dropped.
    assert [read.data for read in h.reads] == [b"55"]
