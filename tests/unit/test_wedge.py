"""KeyboardWedgeDecoder: real evdev.InputEvent streams through the real decoder."""

from __future__ import annotations

from pathlib import Path

import pytest
from evdev import InputEvent
from evdev import ecodes as e
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.evdev.keymap import load_keymap, xkb_available
from hardware.evdev.wedge import KeyboardWedgeDecoder
from hardware.reads import RawRead

FIXTURES = Path(__file__).parent / "fixtures"
GS = "\x1d"

# What a US-layout scanner presses for each character: (key, with Shift).
US_KEYS: dict[str, tuple[int, bool]] = {
    **{c: (e.ecodes[f"KEY_{c.upper()}"], False) for c in "abcdefghijklmnopqrstuvwxyz"},
    **{c: (e.ecodes[f"KEY_{c}"], True) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **{c: (e.ecodes[f"KEY_{c}"], False) for c in "0123456789"},
    **dict(zip("!@#$%^&*()", ((e.ecodes[f"KEY_{d}"], True) for d in "1234567890"), strict=True)),
    " ": (e.KEY_SPACE, False),
    "-": (e.KEY_MINUS, False),
    "_": (e.KEY_MINUS, True),
    "=": (e.KEY_EQUAL, False),
    "+": (e.KEY_EQUAL, True),
    "[": (e.KEY_LEFTBRACE, False),
    "{": (e.KEY_LEFTBRACE, True),
    "]": (e.KEY_RIGHTBRACE, False),
    "}": (e.KEY_RIGHTBRACE, True),
    "\\": (e.KEY_BACKSLASH, False),
    "|": (e.KEY_BACKSLASH, True),
    ";": (e.KEY_SEMICOLON, False),
    ":": (e.KEY_SEMICOLON, True),
    "'": (e.KEY_APOSTROPHE, False),
    '"': (e.KEY_APOSTROPHE, True),
    "`": (e.KEY_GRAVE, False),
    "~": (e.KEY_GRAVE, True),
    ",": (e.KEY_COMMA, False),
    "<": (e.KEY_COMMA, True),
    ".": (e.KEY_DOT, False),
    ">": (e.KEY_DOT, True),
    "/": (e.KEY_SLASH, False),
    "?": (e.KEY_SLASH, True),
}


class Stream:
    """Builds the events a scanner sends: each key change as EV_KEY + SYN_REPORT, 2 ms apart."""

    def __init__(self, start: float = 5000.0, step: float = 0.002) -> None:
        self.t = start
        self.step = step
        self.events: list[InputEvent] = []

    def event(self, etype: int, code: int, value: int) -> Stream:
        sec = int(self.t)
        self.events.append(InputEvent(sec, round((self.t - sec) * 1e6), etype, code, value))
        return self

    def key(self, code: int, value: int) -> Stream:
        self.t += self.step
        return self.event(e.EV_KEY, code, value).event(e.EV_SYN, e.SYN_REPORT, 0)

    def tap(self, code: int, *modifiers: int) -> Stream:
        for modifier in modifiers:
            self.key(modifier, 1)
        self.key(code, 1).key(code, 0)
        for modifier in reversed(modifiers):
            self.key(modifier, 0)
        return self

    def text(self, text: str) -> Stream:
        for char in text:
            code, shift = US_KEYS[char]
            self.tap(code, *((e.KEY_LEFTSHIFT,) if shift else ()))
        return self

    def enter(self) -> Stream:
        return self.tap(e.KEY_ENTER)

    def pause(self, seconds: float) -> Stream:
        self.t += seconds
        return self

    def alt_code(self, digits: str) -> Stream:
        self.key(e.KEY_LEFTALT, 1)
        for digit in digits:
            self.tap(e.ecodes[f"KEY_KP{digit}"])
        return self.key(e.KEY_LEFTALT, 0)


def decode(decoder: KeyboardWedgeDecoder, events: list[InputEvent]) -> list[RawRead]:
    reads = [decoder.feed(event) for event in events]
    return [read for read in reads if read is not None]


def texts(reads: list[RawRead]) -> list[str]:
    return [read.data.decode("utf-8") for read in reads]


def test_letters_digits_and_shifted_characters_with_enter_suffix():
    printable = "aZ09!@#$%^&*()-_=+[{]}\\|;:'\",<.>/?`~ x"
    reads = decode(KeyboardWedgeDecoder(), Stream().text(printable).enter().events)
    assert texts(reads) == [printable]
    assert not reads[0].truncated


def test_right_shift_and_overlapping_shift_keys():
    s = Stream().key(e.KEY_LEFTSHIFT, 1).key(e.KEY_RIGHTSHIFT, 1).key(e.KEY_LEFTSHIFT, 0)
    s.tap(e.KEY_A)  # right Shift still held
    s.key(e.KEY_RIGHTSHIFT, 0).tap(e.KEY_A).enter()
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["Aa"]


def test_capslock_upper_cases_letters_only_and_shift_inverts_it():
    s = Stream().tap(e.KEY_CAPSLOCK).tap(e.KEY_A).tap(e.KEY_B, e.KEY_LEFTSHIFT).text("1-")
    s.tap(e.KEY_CAPSLOCK).tap(e.KEY_C).enter()
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["Ab1-c"]


def test_ctrl_right_bracket_is_gs_in_a_gs1_code():
    s = Stream().text("]C1010950110153000310ABC123")
    s.tap(e.KEY_RIGHTBRACE, e.KEY_LEFTCTRL).text("2112345").enter()
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == [
        f"]C1010950110153000310ABC123{GS}2112345"
    ]


def test_ctrl_letters_are_ascii_1_to_26_and_ctrl_symbols_the_other_c0_codes():
    s = Stream().tap(e.KEY_A, e.KEY_LEFTCTRL).tap(e.KEY_D, e.KEY_RIGHTCTRL)
    s.tap(e.KEY_Z, e.KEY_LEFTCTRL, e.KEY_LEFTSHIFT)
    s.tap(e.KEY_6, e.KEY_LEFTCTRL, e.KEY_LEFTSHIFT)  # Ctrl+^ is RS
    s.tap(e.KEY_LEFTBRACE, e.KEY_LEFTCTRL)  # Ctrl+[ is ESC
    s.tap(e.KEY_5, e.KEY_LEFTCTRL)  # Ctrl+5 has no control code: nothing
    s.text("x").enter()
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["\x01\x04\x1a\x1e\x1bx"]


def test_alt_keypad_codes_become_their_character_on_alt_release():
    s = Stream().text("A").alt_code("029").alt_code("65").alt_code("0196").alt_code("130")
    s.alt_code("8364").text("B").enter()
    # 029: GS; 65: "A"; 0196: Windows-1252 "Ä"; 130: code page 437 "é"; 8364: U+20AC
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["A\x1dAÄé€B"]


def test_alt_keypad_works_with_numlock_off_and_alt_with_other_keys_types_nothing():
    s = Stream().tap(e.KEY_NUMLOCK).alt_code("49")
    s.key(e.KEY_LEFTALT, 1).tap(e.KEY_X).key(e.KEY_LEFTALT, 0).enter()
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["1"]


def test_keypad_enter_ends_a_code_and_keypad_digits_follow_numlock():
    s = Stream().tap(e.KEY_KP1).tap(e.KEY_KPDOT).tap(e.KEY_KP2).tap(e.KEY_KPPLUS)
    s.tap(e.KEY_KP3, e.KEY_LEFTSHIFT)  # Shift cancels NumLock: a cursor key, nothing typed
    s.tap(e.KEY_NUMLOCK).tap(e.KEY_KP4).tap(e.KEY_KPMINUS).tap(e.KEY_KPENTER)
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["1.2+-"]


def test_initial_numlock_off_is_configurable():
    s = Stream().tap(e.KEY_KP1).tap(e.KEY_NUMLOCK).tap(e.KEY_KP2).enter()
    assert texts(decode(KeyboardWedgeDecoder(numlock=False), s.events)) == ["2"]


def test_tab_suffix_ends_codes_and_enter_is_then_data():
    s = Stream().text("AB").enter().text("C").tap(e.KEY_TAB).text("D").tap(e.KEY_TAB)
    assert texts(decode(KeyboardWedgeDecoder(suffix="tab"), s.events)) == ["AB\rC", "D"]


def test_tab_is_data_with_the_enter_suffix():
    s = Stream().text("A").tap(e.KEY_TAB).text("B").enter()
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["A\tB"]


def test_no_suffix_code_is_finished_by_poll_after_the_idle_gap():
    decoder = KeyboardWedgeDecoder(suffix="none", idle_ms=50)
    s = Stream().text("4006381333931").enter()  # Enter is data without a suffix
    assert decode(decoder, s.events) == []
    last = s.events[-1].timestamp()
    assert decoder.deadline() == pytest.approx(last + 0.050)
    assert decoder.poll(last + 0.049) is None
    read = decoder.poll(last + 0.050)
    assert read is not None
    assert read.data == b"4006381333931\r"
    assert read.monotonic == pytest.approx(last)  # when the code was complete
    assert decoder.deadline() is None
    assert decoder.poll(last + 10) is None


def test_idle_gap_between_two_codes_never_glues_them():
    # A scanner without a suffix, read twice; the reader did not poll in between.
    s = Stream().text("111").pause(0.2).text("222")
    decoder = KeyboardWedgeDecoder(suffix="none")
    reads = decode(decoder, s.events)
    assert texts(reads) == ["111"]  # flushed when the first key of the next code arrived
    final = decoder.poll(s.t + 1)
    assert final is not None
    assert final.data == b"222"


def test_a_fragment_before_an_idle_gap_is_its_own_read_even_with_enter_suffix():
    s = Stream().text("12").pause(0.08).text("345").enter()
    reads = decode(KeyboardWedgeDecoder(idle_ms=50), s.events)
    assert texts(reads) == ["12", "345"]


def test_keys_slower_than_the_idle_gap_setting_do_not_split_a_slow_scanner():
    s = Stream(step=0.03).text("12345").enter()  # 60 ms per character, 30 ms between events
    assert texts(decode(KeyboardWedgeDecoder(idle_ms=50), s.events)) == ["12345"]


def test_lone_suffix_and_a_late_suffix_after_an_idle_flush_make_no_empty_read():
    decoder = KeyboardWedgeDecoder()
    s = Stream().enter().text("9").pause(0.1)
    reads = decode(decoder, s.events)
    late = decoder.poll(s.t)
    s2 = Stream(start=s.t + 0.01).enter()
    reads += decode(decoder, s2.events)
    assert reads == []
    assert late is not None
    assert late.data == b"9"


def test_syn_dropped_discards_the_partial_code_and_resets_modifiers():
    s = Stream().text("12").key(e.KEY_LEFTSHIFT, 1)
    s.event(e.EV_SYN, e.SYN_DROPPED, 0)
    # Events after SYN_DROPPED up to the next SYN_REPORT are ignored.
    s.event(e.EV_KEY, e.KEY_9, 1).event(e.EV_SYN, e.SYN_REPORT, 0)
    s.tap(e.KEY_A).enter()  # Shift's release was lost: "a" must be lower case
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["a"]


def test_auto_repeat_is_ignored():
    s = Stream().key(e.KEY_7, 1)
    for _ in range(3):
        s.t += 0.03
        s.event(e.EV_KEY, e.KEY_7, 2).event(e.EV_SYN, e.SYN_REPORT, 0)
    s.key(e.KEY_7, 0).enter()
    assert texts(decode(KeyboardWedgeDecoder(), s.events)) == ["7"]


def test_length_cap_truncates_and_discards_the_rest_of_that_code_only():
    s = Stream().text("1234567890").enter().text("ab").enter()
    reads = decode(KeyboardWedgeDecoder(max_length=5), s.events)
    assert reads[0].data == b"12345"
    assert reads[0].truncated
    assert reads[1].data == b"ab"
    assert not reads[1].truncated


def test_length_cap_counts_utf8_bytes_and_never_splits_a_character():
    s = Stream().text("abcd").alt_code("0233").enter()  # é is two bytes
    reads = decode(KeyboardWedgeDecoder(max_length=5), s.events)
    assert reads[0].data == b"abcd"
    assert reads[0].truncated


def test_reset_discards_the_partial_code():
    decoder = KeyboardWedgeDecoder()
    decode(decoder, Stream().text("123").key(e.KEY_LEFTSHIFT, 1).events)
    decoder.reset()
    assert not decoder.in_progress
    assert texts(decode(decoder, Stream(start=6000).text("4").enter().events)) == ["4"]


def test_read_time_is_the_suffix_key_time():
    s = Stream().text("5").enter()
    enter_down = next(ev for ev in s.events if ev.code == e.KEY_ENTER and ev.value == 1)
    (read,) = decode(KeyboardWedgeDecoder(), s.events)
    assert read.monotonic == enter_down.timestamp()


def test_recorded_gs1_stream_from_a_hid_scanner():
    events = []
    for line in (FIXTURES / "hid_gs1_128_us.events").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            sec, usec, etype, code, value = (int(field) for field in line.split())
            events.append(InputEvent(sec, usec, etype, code, value))
    reads = decode(KeyboardWedgeDecoder(), events)
    assert texts(reads) == [f"]C1010950110153000310ABC123{GS}2112345"]


def test_settings_are_validated():
    with pytest.raises(ValueError, match="suffix"):
        KeyboardWedgeDecoder(suffix="cr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idle_ms"):
        KeyboardWedgeDecoder(idle_ms=0)
    with pytest.raises(ValueError, match="max_length"):
        KeyboardWedgeDecoder(max_length=0)


# --- layouts through the decoder (xkbcommon) ------------------------------------------------

needs_xkb = pytest.mark.skipif(
    not xkb_available(),
    reason="the optional xkbcommon bindings are not installed (pip install .[xkb])",
)


@needs_xkb
def test_german_scanner_code_with_altgr_dead_key_and_gs():
    decoder = KeyboardWedgeDecoder(load_keymap("de"))
    s = Stream().tap(e.KEY_Y).tap(e.KEY_Z, e.KEY_LEFTSHIFT)  # z and Y swap on German keyboards
    s.tap(e.KEY_Q, e.KEY_RIGHTALT)  # AltGr+Q is @
    s.tap(e.KEY_Q, e.KEY_LEFTCTRL, e.KEY_LEFTALT)  # Ctrl+Alt is AltGr, as on Windows
    s.tap(e.KEY_GRAVE).tap(e.KEY_SPACE)  # dead ^ then space types ^
    s.tap(e.KEY_GRAVE).tap(e.KEY_E)  # dead ^ then e composes
    s.tap(e.KEY_9, e.KEY_LEFTCTRL, e.KEY_RIGHTALT)  # Ctrl+] where ] is AltGr+9: GS
    s.tap(e.KEY_Y, e.KEY_LEFTCTRL)  # Ctrl+Z by the layout's letter
    s.tap(e.KEY_KPDOT).enter()  # German keypad decimal is a comma
    assert texts(decode(decoder, s.events)) == ["zY@@^ê\x1d\x1a,"]


@needs_xkb
def test_dead_key_at_the_end_of_a_code_types_itself():
    decoder = KeyboardWedgeDecoder(load_keymap("fr"))
    s = Stream().tap(e.KEY_Q).tap(e.KEY_LEFTBRACE).enter()  # fr: q key is a, [ key is dead ^
    assert texts(decode(decoder, s.events)) == ["a^"]


# --- fuzz ---------------------------------------------------------------------------------

_CODES = st.one_of(
    st.sampled_from(
        [
            e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT, e.KEY_LEFTCTRL, e.KEY_LEFTALT, e.KEY_RIGHTALT,
            e.KEY_CAPSLOCK, e.KEY_NUMLOCK, e.KEY_ENTER, e.KEY_KPENTER, e.KEY_TAB, e.KEY_A,
            e.KEY_1, e.KEY_KP0, e.KEY_KP9, e.KEY_RIGHTBRACE, e.KEY_GRAVE, e.KEY_SPACE,
        ]
    ),
    st.integers(min_value=0, max_value=0x2FF),
)  # fmt: skip
_EVENTS = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=0.2),  # time since the previous event
        st.sampled_from([e.EV_KEY, e.EV_KEY, e.EV_KEY, e.EV_SYN, e.EV_MSC, 0x15]),
        _CODES,
        st.sampled_from([0, 1, 2, -1, 7]),
        st.booleans(),  # poll after this event
    ),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(
    _EVENTS,
    st.integers(min_value=1, max_value=24),
    st.sampled_from(["enter", "tab", "none"]),
    st.sampled_from(["us", "de"] if xkb_available() else ["us"]),
)
def test_fuzz_never_raises_and_never_exceeds_the_cap(events, max_length, suffix, layout):
    decoder = KeyboardWedgeDecoder(load_keymap(layout), suffix=suffix, max_length=max_length)
    t = 100.0
    reads = []
    for dt, etype, any_code, value, poll in events:
        t += dt
        sec = int(t)
        # For EV_SYN: SYN_REPORT, SYN_CONFIG, SYN_MT_REPORT or SYN_DROPPED.
        code = any_code % 4 if etype == e.EV_SYN else any_code
        reads.append(decoder.feed(InputEvent(sec, int((t - sec) * 1e6), etype, code, value)))
        if poll:
            reads.append(decoder.poll(t))
    reads.append(decoder.poll(t + 1))
    for read in reads:
        if read is not None:
            assert len(read.data) <= max_length
            read.data.decode("utf-8")  # whole characters only
            assert read.data or read.truncated
    assert not decoder.in_progress
