"""KeyboardWedgeDecoder fed hostile streams of real ``evdev.InputEvent`` objects.

The unit tests hold the decoder's behaviour case by case and fuzz key codes with a
steady clock. Here the streams are worse than any scanner sends: every event type the
kernel has (EV_SYN with SYN_DROPPED, EV_MSC, EV_REL...), key values outside 0/1/2,
codes up to KEY_MAX, timestamps that jump backwards and polls at any time. And, on
streams with known idle gaps, the decoder must never glue characters typed on both
sides of a gap longer than its idle timeout into one code.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from evdev import InputEvent
from evdev import ecodes as e
from hypothesis import example, given
from hypothesis import strategies as st

from hardware.evdev.keymap import load_keymap, xkb_available
from hardware.evdev.wedge import KeyboardWedgeDecoder
from hardware.options import SUFFIXES
from hardware.reads import RawRead
from tests.fuzz.conftest import fuzz_settings

LAYOUTS = ["us", "de"] if xkb_available() else ["us"]
SYN_CODES = [e.SYN_REPORT, e.SYN_CONFIG, e.SYN_MT_REPORT, e.SYN_DROPPED]
KEY_MAX = 0x2FF
# The widest UTF-8 character: a code stopped by the cap is at most this short of it.
MAX_CHAR_BYTES = 4


def event_at(t: float, etype: int, code: int, value: int) -> InputEvent:
    sec, usec = divmod(round(t * 1e6), 1_000_000)
    return InputEvent(sec, usec, etype, code, value)


def check_read(read: RawRead, max_length: int) -> None:
    """What every read the decoder gives must be, whatever it was fed."""
    assert len(read.data) <= max_length
    read.data.decode("utf-8")  # whole characters only: the cap never splits one
    assert read.data or read.truncated  # no empty reads
    if read.truncated:
        # The cap keeps as much as fits: only a character that did not fit was dropped.
        assert len(read.data) + MAX_CHAR_BYTES > max_length


# --- any stream -------------------------------------------------------------------------

_KEY_CODES = st.one_of(
    st.sampled_from(
        [
            e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT, e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL, e.KEY_LEFTALT,
            e.KEY_RIGHTALT, e.KEY_CAPSLOCK, e.KEY_NUMLOCK, e.KEY_ENTER, e.KEY_KPENTER,
            e.KEY_TAB, e.KEY_A, e.KEY_Q, e.KEY_Z, e.KEY_1, e.KEY_6, e.KEY_9, e.KEY_KP0,
            e.KEY_KP1, e.KEY_KP2, e.KEY_KP9, e.KEY_KPDOT, e.KEY_RIGHTBRACE, e.KEY_GRAVE,
            e.KEY_EQUAL, e.KEY_SPACE, e.KEY_102ND, e.KEY_EURO,
        ]
    ),
    st.integers(min_value=0, max_value=KEY_MAX),
)  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from([0, 1, 1, 2]),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
)


@st.composite
def _any_event(draw: st.DrawFn) -> tuple[int, int, int]:
    etype = draw(st.sampled_from([e.EV_KEY] * 6 + [e.EV_SYN] * 3 + [e.EV_MSC, e.EV_REL, 0x1F]))
    if etype == e.EV_SYN:
        code = draw(st.sampled_from(SYN_CODES))
    elif etype == e.EV_MSC:
        code = e.MSC_SCAN
    elif etype == e.EV_KEY:
        code = draw(_KEY_CODES)
    else:
        code = draw(st.integers(min_value=0, max_value=0xFFFF))
    return etype, code, draw(_VALUES)


_STEPS = st.lists(
    st.tuples(
        # Time since the previous event; negative: the timestamps went backwards.
        st.one_of(
            st.floats(min_value=0, max_value=0.03),
            st.floats(min_value=-5, max_value=5),
        ),
        _any_event(),
        # After the event the reader may poll (now, or at any time at all) or lose the device.
        st.sampled_from(["", "", "", "poll", "poll-anytime", "reset"]),
        st.floats(min_value=0, max_value=1e6),
    ),
    max_size=250,
)


@fuzz_settings(weight=2)
@given(
    steps=_STEPS,
    start=st.floats(min_value=0, max_value=1e6),
    max_length=st.integers(min_value=1, max_value=48),
    idle_ms=st.floats(min_value=0.5, max_value=500),
    suffix=st.sampled_from(SUFFIXES),
    layout=st.sampled_from(LAYOUTS),
    numlock=st.booleans(),
)
def test_any_event_stream_gives_bounded_whole_reads_and_ends_idle(
    *,
    steps: list[tuple[float, tuple[int, int, int], str, float]],
    start: float,
    max_length: int,
    idle_ms: float,
    suffix: str,
    layout: str,
    numlock: bool,
) -> None:
    decoder = KeyboardWedgeDecoder(
        load_keymap(layout),
        suffix=suffix,  # type: ignore[arg-type]
        idle_ms=idle_ms,
        max_length=max_length,
        numlock=numlock,
    )
    t = latest = start
    key_times: set[float] = set()
    reads: list[RawRead] = []
    for dt, (etype, code, value), action, anytime in steps:
        t = max(0.0, t + dt)
        event = event_at(t, etype, code, value)
        latest = max(latest, event.timestamp())
        if etype == e.EV_KEY:
            key_times.add(event.timestamp())
        read = decoder.feed(event)
        if read is not None:
            reads.append(read)
        if action == "poll":
            read = decoder.poll(t)
        elif action == "poll-anytime":
            read = decoder.poll(anytime)
        elif action == "reset":
            decoder.reset()
            read = None
        if read is not None:
            reads.append(read)
        deadline = decoder.deadline()
        assert (deadline is not None) == decoder.in_progress
    final = decoder.poll(latest + idle_ms / 1000 + 1)
    if final is not None:
        reads.append(final)
    for read in reads:
        check_read(read, max_length)
        # A read is stamped with the time of a key event it was fed, never an invented time.
        assert read.monotonic in key_times
    # Long after the last key nothing is left half-read.
    assert not decoder.in_progress
    assert decoder.deadline() is None


# --- streams with idle gaps ---------------------------------------------------------------

LETTER_KEYS = [e.ecodes[f"KEY_{c}"] for c in string.ascii_uppercase]
DIGIT_KEYS = [e.ecodes[f"KEY_{d}"] for d in string.digits] + [
    e.ecodes[f"KEY_KP{d}"] for d in string.digits
]
# Characters that belong to no side: what Enter and Tab type when they are not the suffix.
NEUTRAL = frozenset("\r\t")


@dataclass(frozen=True)
class Burst:
    """Keys typed with no pause longer than the idle timeout, then a longer pause."""

    steps: tuple[tuple[str, int, float], ...]  # (kind, key, seconds before it)
    gap: float  # pause after the burst, in idle timeouts (> 1)
    poll_in_gap: float | None  # where in the pause the reader polls (0..1), if it does


_NOISE = ["msc", "report", "repeat", "dropped", "stray-release", "dead-key"]


@st.composite
def _burst(draw: st.DrawFn, keys: list[int]) -> Burst:
    kinds = st.sampled_from(["tap"] * 8 + ["shift", "capslock", "numlock", "enter", "tab"] + _NOISE)
    steps = draw(
        st.lists(
            st.tuples(kinds, st.sampled_from(keys), st.floats(min_value=0, max_value=0.8)),
            min_size=1,
            max_size=30,
        )
    )
    return Burst(
        steps=tuple(steps),
        gap=draw(st.floats(min_value=1.2, max_value=40)),
        poll_in_gap=draw(st.none() | st.floats(min_value=0, max_value=1)),
    )


@st.composite
def _bursts(draw: st.DrawFn) -> list[Burst]:
    count = draw(st.integers(min_value=2, max_value=6))
    # Neighbouring bursts type from disjoint sets, letters then digits, so a read holding
    # both can only have glued two bursts together.
    return [draw(_burst(LETTER_KEYS if i % 2 == 0 else DIGIT_KEYS)) for i in range(count)]


class StreamBuilder:
    """Events of a scanner, each key change followed by SYN_REPORT as the kernel sends it."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.events: list[InputEvent] = []
        self.polls: dict[int, float] = {}  # after event index: poll at this time

    def raw(self, etype: int, code: int, value: int) -> None:
        self.events.append(event_at(self.t, etype, code, value))

    def key(self, code: int, value: int, before: float) -> None:
        self.t += before
        self.raw(e.EV_KEY, code, value)
        self.raw(e.EV_SYN, e.SYN_REPORT, 0)

    def tap(self, code: int, before: float) -> None:
        self.raw(e.EV_MSC, e.MSC_SCAN, 0x70000 + code)
        self.key(code, 1, before)
        self.key(code, 0, before)

    def poll_at(self, t: float) -> None:
        self.polls[len(self.events) - 1] = t


def build_stream(bursts: list[Burst], idle: float, start: float) -> StreamBuilder:
    stream = StreamBuilder(start)
    shift_down = False
    for burst in bursts:
        for kind, key, before in burst.steps:
            # Half of the allowed pause before each of the two key events of a tap.
            pause = before * idle / 2
            if kind == "tap":
                stream.tap(key, pause)
            elif kind == "shift":
                shift_down = not shift_down
                stream.key(e.KEY_LEFTSHIFT, int(shift_down), pause)
            elif kind == "capslock":
                stream.tap(e.KEY_CAPSLOCK, pause)
            elif kind == "numlock":
                stream.tap(e.KEY_NUMLOCK, pause)
            elif kind == "enter":
                stream.tap(e.KEY_ENTER, pause)
            elif kind == "tab":
                stream.tap(e.KEY_TAB, pause)
            elif kind == "msc":
                stream.raw(e.EV_MSC, e.MSC_SCAN, key)
            elif kind == "report":
                stream.raw(e.EV_SYN, e.SYN_REPORT, 0)
            elif kind == "repeat":
                stream.raw(e.EV_KEY, key, 2)
            elif kind == "dropped":
                stream.raw(e.EV_SYN, e.SYN_DROPPED, 0)
                stream.raw(e.EV_KEY, key, 1)  # lost with the buffer: ignored
                stream.raw(e.EV_SYN, e.SYN_REPORT, 0)
                shift_down = False  # its release may be lost too; the decoder forgets it
            elif kind == "stray-release":
                stream.key(key, 0, pause)
            else:  # a key that types nothing on the US layout
                stream.tap(e.KEY_F1, pause)
        if burst.poll_in_gap is not None:
            stream.poll_at(stream.t + burst.poll_in_gap * burst.gap * idle)
        stream.t += burst.gap * idle
    return stream


def _sides(text: str) -> set[str]:
    return {
        "letters" if char in string.ascii_letters else "digits"
        for char in text
        if char not in NEUTRAL
    }


@fuzz_settings(weight=1)
@given(
    bursts=_bursts(),
    idle_ms=st.floats(min_value=5, max_value=300),
    start=st.floats(min_value=0, max_value=1e5),
    max_length=st.integers(min_value=1, max_value=64),
    suffix=st.sampled_from(SUFFIXES),
)
def test_characters_on_both_sides_of_an_idle_gap_are_never_one_code(
    bursts: list[Burst], idle_ms: float, start: float, max_length: int, suffix: str
) -> None:
    idle = idle_ms / 1000
    stream = build_stream(bursts, idle, start)
    decoder = KeyboardWedgeDecoder(suffix=suffix, idle_ms=idle_ms, max_length=max_length)  # type: ignore[arg-type]
    reads: list[RawRead] = []
    for index, event in enumerate(stream.events):
        read = decoder.feed(event)
        if read is not None:
            reads.append(read)
        if index in stream.polls:
            read = decoder.poll(stream.polls[index])
            if read is not None:
                reads.append(read)
    final = decoder.poll(stream.t)
    if final is not None:
        reads.append(final)
    for read in reads:
        check_read(read, max_length)
        sides = _sides(read.data.decode("utf-8"))
        assert len(sides) <= 1, f"{read.data!r} glues characters from both sides of a gap"
    assert not decoder.in_progress


# --- plain codes with gaps: the exact reads ---------------------------------------------

_PLAIN = st.lists(
    st.lists(st.sampled_from(list("ab7\n")), min_size=1, max_size=12),
    min_size=1,
    max_size=6,
)
_PLAIN_KEYS = {"a": e.KEY_A, "b": e.KEY_B, "7": e.KEY_7, "\n": e.KEY_ENTER}


@fuzz_settings(weight=1)
@example(segments=[["a", "b"], ["7", "\n"]], max_length=64, noise=[], polls=[]).via(
    "a code cut by an idle gap before its Enter"
)
@given(
    segments=_PLAIN,
    max_length=st.integers(min_value=1, max_value=6),
    noise=st.lists(st.sampled_from(["msc", "report", "repeat"]), max_size=40),
    polls=st.lists(st.floats(min_value=0, max_value=1), max_size=6),
)
def test_codes_between_gaps_and_enter_keys_come_out_exactly_as_typed(
    segments: list[list[str]], max_length: int, noise: list[str], polls: list[float]
) -> None:
    """Enter ends a code, and so does every idle gap; noise events change nothing."""
    idle = 0.05
    decoder = KeyboardWedgeDecoder(suffix="enter", idle_ms=idle * 1000, max_length=max_length)
    t = 100.0
    reads: list[RawRead] = []
    expected: list[tuple[bytes, bool, float]] = []
    noise_left = list(noise)

    def feed(etype: int, code: int, value: int) -> None:
        read = decoder.feed(event_at(t, etype, code, value))
        if read is not None:
            reads.append(read)

    for number, segment in enumerate(segments):
        piece = ""
        last_key = t
        for char in segment:
            for value in (1, 0):
                t += idle / 4
                feed(e.EV_KEY, _PLAIN_KEYS[char], value)
                feed(e.EV_SYN, e.SYN_REPORT, 0)
                if value == 1 and char == "\n" and piece:
                    expected.append(_cut(piece, max_length, t))
                if value == 1 and char == "\n":
                    piece = ""
                last_key = t
                if noise_left:
                    kind = noise_left.pop()
                    if kind == "msc":
                        feed(e.EV_MSC, e.MSC_SCAN, 7)
                    elif kind == "report":
                        feed(e.EV_SYN, e.SYN_REPORT, 0)
                    else:
                        feed(e.EV_KEY, _PLAIN_KEYS[char], 2)
            if char != "\n":
                piece += char
        if piece:
            expected.append(_cut(piece, max_length, last_key))
        gap = idle * 3
        if number < len(polls):
            read = decoder.poll(t + polls[number] * gap)
            if read is not None:
                reads.append(read)
        t += gap
    final = decoder.poll(t)
    if final is not None:
        reads.append(final)
    assert [(r.data, r.truncated, r.monotonic) for r in reads] == expected


def _cut(piece: str, max_length: int, at: float) -> tuple[bytes, bool, float]:
    stamp = event_at(at, 0, 0, 0).timestamp()
    return piece[:max_length].encode(), len(piece) > max_length, stamp
