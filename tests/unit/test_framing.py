"""The serial framer: terminators, idle flush, length cap and reset, with plain numbers for time."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.reads import RawRead
from hardware.serial.framing import CR, ETX, LF, STX, TERMINATORS, Framer, Terminator

IDLE_MS = 50
IDLE_S = IDLE_MS / 1000


def frames(
    terminator: Terminator, chunks: list[bytes], *, max_length: int = 512
) -> list[tuple[bytes, bool]]:
    """Feed the chunks back to back (no idle gap) and return (data, truncated) per read."""
    framer = Framer(terminator, idle_ms=IDLE_MS, max_length=max_length)
    reads: list[RawRead] = []
    for chunk in chunks:
        reads.extend(framer.feed(chunk, 1.0))
    return [(r.data, r.truncated) for r in reads]


TABLE: list[tuple[Terminator, list[bytes], list[bytes]]] = [
    # "any": CR, LF or CRLF; CRLF is one terminator, never an empty extra code
    ("any", [b"ABC\r"], [b"ABC"]),
    ("any", [b"ABC\n"], [b"ABC"]),
    ("any", [b"ABC\r\nDEF\r\n"], [b"ABC", b"DEF"]),
    ("any", [b"ABC\r", b"\nDEF\r", b"\n"], [b"ABC", b"DEF"]),
    ("any", [b"A", b"B", b"C", b"\r", b"\n"], [b"ABC"]),
    ("any", [b"ABC\n\rDEF\r\r\n\n"], [b"ABC", b"DEF"]),
    ("any", [b"\r\n\r\n"], []),
    ("any", [b"ABC"], []),  # no terminator yet: pending, not reported
    ("any", [b"A\x1dB\x04C\r"], [b"A\x1dB\x04C"]),  # GS and other controls are data
    # "cr": only CR ends a code; LF is data
    ("cr", [b"ABC\rDEF\r"], [b"ABC", b"DEF"]),
    ("cr", [b"AB\nC\r"], [b"AB\nC"]),
    ("cr", [b"AB", b"C\r"], [b"ABC"]),
    # "lf"
    ("lf", [b"ABC\nDEF\n"], [b"ABC", b"DEF"]),
    ("lf", [b"AB\rC\n"], [b"AB\rC"]),
    # "crlf": a lone CR is data; the pair may be split across chunks
    ("crlf", [b"ABC\r\nDEF\r\n"], [b"ABC", b"DEF"]),
    ("crlf", [b"ABC\r", b"\nDEF\r\n"], [b"ABC", b"DEF"]),
    ("crlf", [b"A\rB\r\n"], [b"A\rB"]),
    ("crlf", [b"A\r\rB\r\r\n"], [b"A\r\rB\r"]),
    ("crlf", [b"A\nB\r\n"], [b"A\nB"]),
    ("crlf", [b"\r\n"], []),
    # "etx"
    ("etx", [b"ABC\x03DEF\x03"], [b"ABC", b"DEF"]),
    ("etx", [b"AB", b"C\x03"], [b"ABC"]),
    ("etx", [b"AB\r\nC\x03"], [b"AB\r\nC"]),
    # "stx-etx": bytes outside a frame are noise
    ("stx-etx", [b"\x02ABC\x03"], [b"ABC"]),
    ("stx-etx", [b"noise\x02ABC\x03\r\njunk\x02DEF\x03"], [b"ABC", b"DEF"]),
    ("stx-etx", [b"\x02A", b"B", b"C\x03"], [b"ABC"]),
    ("stx-etx", [b"\x03\x03\x02ABC\x03\x03"], [b"ABC"]),
    ("stx-etx", [b"\x02\x03"], []),
    # a new STX while a frame is open: the open frame lost its ETX and is
    # reported on its own, never glued to the next
    ("stx-etx", [b"\x02AB\x02CD\x03"], [b"AB", b"CD"]),
]


@pytest.mark.parametrize(("terminator", "chunks", "expected"), TABLE)
def test_terminators(terminator: Terminator, chunks: list[bytes], expected: list[bytes]) -> None:
    assert frames(terminator, chunks) == [(code, False) for code in expected]


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_every_split_of_a_stream_gives_the_same_codes(terminator: Terminator) -> None:
    stream = wrap(terminator, [b"0123456789", b"]C1010950110153", b"X"])
    whole = frames(terminator, [stream])
    assert [code for code, _ in whole] == [b"0123456789", b"]C1010950110153", b"X"]
    for cut in range(len(stream) + 1):
        assert frames(terminator, [stream[:cut], stream[cut:]]) == whole
    assert frames(terminator, [bytes([b]) for b in stream]) == whole


# -- idle flush --------------------------------------------------------------


def test_idle_flush_reports_a_code_without_terminator() -> None:
    framer = Framer("any", idle_ms=IDLE_MS)
    assert framer.feed(b"ABC", 10.0) == []
    assert framer.deadline() == pytest.approx(10.0 + IDLE_S)
    assert framer.poll(10.0 + IDLE_S / 2) is None
    read = framer.poll(10.0 + IDLE_S)
    # stamped with the arrival of its last byte: when the scanner finished
    assert read == RawRead(b"ABC", 10.0)
    assert framer.poll(20.0) is None
    assert not framer.pending
    assert framer.deadline() is None


def test_idle_timer_restarts_with_every_byte() -> None:
    framer = Framer("any", idle_ms=IDLE_MS)
    t = 0.0
    for byte in b"ABCDEFGH":
        assert framer.feed(bytes([byte]), t) == []
        t += IDLE_S * 0.9
        assert framer.poll(t) is None
    assert framer.poll(t - IDLE_S * 0.9 + IDLE_S) == RawRead(b"ABCDEFGH", t - IDLE_S * 0.9)


def test_bytes_on_both_sides_of_an_idle_gap_are_never_joined() -> None:
    # The gap is seen in feed() even when nobody polled during it.
    framer = Framer("cr", idle_ms=IDLE_MS)
    assert framer.feed(b"AB", 1.0) == []
    assert framer.feed(b"CD\r", 1.0 + IDLE_S) == [
        RawRead(b"AB", 1.0),
        RawRead(b"CD", 1.0 + IDLE_S),
    ]


def test_idle_flush_in_crlf_mode_keeps_a_trailing_cr_as_data() -> None:
    framer = Framer("crlf", idle_ms=IDLE_MS)
    framer.feed(b"AB\r", 0.0)
    assert framer.poll(1.0) == RawRead(b"AB\r", 0.0)


def test_idle_flush_closes_an_open_stx_frame() -> None:
    framer = Framer("stx-etx", idle_ms=IDLE_MS)
    assert framer.feed(b"\x02AB", 0.0) == []
    assert framer.poll(1.0) == RawRead(b"AB", 0.0)
    # the rest of the broken frame is noise until the next STX
    assert framer.feed(b"CD\x03\x02EF\x03", 1.0) == [RawRead(b"EF", 1.0)]


def test_a_lone_stx_followed_by_silence_does_not_swallow_the_next_burst() -> None:
    framer = Framer("stx-etx", idle_ms=IDLE_MS)
    assert framer.feed(b"\x02", 0.0) == []
    assert framer.poll(1.0) is None  # nothing to report, but the frame is closed
    assert framer.feed(b"AB\x03", 2.0) == []


def test_terminated_code_is_stamped_with_the_terminators_arrival() -> None:
    framer = Framer("any", idle_ms=IDLE_MS)
    framer.feed(b"AB", 1.0)
    assert framer.feed(b"C\r", 1.01) == [RawRead(b"ABC", 1.01)]


# -- length cap --------------------------------------------------------------


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_overlong_code_is_truncated_and_its_rest_discarded(terminator: Terminator) -> None:
    stream = wrap(terminator, [b"ABCDEFGHIJ", b"XY"])
    assert frames(terminator, [stream], max_length=4) == [(b"ABCD", True), (b"XY", False)]


def test_code_exactly_at_the_cap_is_not_truncated() -> None:
    assert frames("any", [b"ABCD\r"], max_length=4) == [(b"ABCD", False)]


def test_truncated_code_without_terminator_is_flushed_when_idle() -> None:
    framer = Framer("any", idle_ms=IDLE_MS, max_length=3)
    assert framer.feed(b"ABCDEF", 0.0) == []
    assert framer.poll(1.0) == RawRead(b"ABC", 0.0, truncated=True)
    assert framer.feed(b"GH\r", 2.0) == [RawRead(b"GH", 2.0)]


# -- reset -------------------------------------------------------------------


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_reset_discards_the_partial_code(terminator: Terminator) -> None:
    framer = Framer(terminator, idle_ms=IDLE_MS, max_length=4)
    # a code cut before its terminator (in "crlf" mode, between CR and LF)
    head = {"stx-etx": b"\x02HALF-CUT", "crlf": b"HALF-CUT\r"}.get(terminator, b"HALF-CUT")
    assert framer.feed(head, 0.0) == []
    assert framer.deadline() is not None  # a partial code is waiting
    framer.reset()
    assert not framer.pending
    assert framer.poll(100.0) is None
    assert framer.feed(wrap(terminator, [b"NEXT"]), 100.0) == [RawRead(b"NEXT", 100.0)]


def test_reset_in_crlf_mode_forgets_a_pending_cr() -> None:
    framer = Framer("crlf", idle_ms=IDLE_MS)
    framer.feed(b"AB\r", 0.0)
    framer.reset()
    # the LF no longer completes "AB\r\n": on its own it is data
    assert framer.feed(b"\nCD\r\n", 0.0) == [RawRead(b"\nCD", 0.0)]


# -- configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"terminator": "tab"},
        {"idle_ms": 0},
        {"idle_ms": -5},
        {"max_length": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Framer(**kwargs)  # type: ignore[arg-type]


# -- properties --------------------------------------------------------------

TERMINATOR_BYTES = {
    "any": b"\r\n",
    "cr": b"\r",
    "lf": b"\n",
    "crlf": b"\r\n",
    "etx": b"\x03",
}


def wrap(terminator: Terminator, codes: list[bytes]) -> bytes:
    """The bytes a scanner set to ``terminator`` sends for these codes."""
    if terminator == "stx-etx":
        return b"".join(b"\x02" + code + b"\x03" for code in codes)
    return b"".join(code + TERMINATOR_BYTES[terminator] for code in codes)


def code_bytes(terminator: Terminator) -> st.SearchStrategy[bytes]:
    """Codes that do not contain their own framing bytes."""
    forbidden = {"any": {CR, LF}, "cr": {CR}, "lf": {LF}, "crlf": {CR}, "etx": {ETX}}
    excluded = forbidden.get(terminator, {STX, ETX})
    alphabet = st.integers(0, 255).filter(lambda b: b not in excluded)
    return st.lists(alphabet, min_size=1, max_size=40).map(bytes)


@st.composite
def codes_and_cuts(draw: st.DrawFn) -> tuple[Terminator, list[bytes], list[bytes], int]:
    terminator = draw(st.sampled_from(TERMINATORS))
    codes = draw(st.lists(code_bytes(terminator), max_size=8))
    stream = wrap(terminator, codes)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    max_length = draw(st.integers(1, 50))
    return terminator, codes, chunks, max_length


@given(codes_and_cuts())
@settings(max_examples=400)
def test_codes_come_out_as_sent_however_the_stream_is_split(
    case: tuple[Terminator, list[bytes], list[bytes], int],
) -> None:
    terminator, codes, chunks, max_length = case
    expected = [(code[:max_length], len(code) > max_length) for code in codes]
    assert frames(terminator, chunks, max_length=max_length) == expected


# Bursts alternate between two disjoint letter sets; the framing bytes are
# shared. A read holding letters of both sets joined bytes across an idle gap.
LOW = frozenset(b"ABCDEFGHIJKLM")
HIGH = frozenset(b"NOPQRSTUVWXYZ")
CONTROLS = (CR, LF, STX, ETX)


@st.composite
def bursts(draw: st.DrawFn) -> list[tuple[bytes, float]]:
    """Chunks with the delay before each; a delay of at least IDLE_S starts a new burst."""
    out: list[tuple[bytes, float]] = []
    letter_sets = (sorted(LOW), sorted(HIGH))
    burst = 0
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):  # an idle gap: the next burst uses the other letters
            burst += 1
            gap = draw(st.floats(IDLE_S, 10 * IDLE_S))
        else:
            gap = draw(st.floats(0.0, IDLE_S * 0.99))
        alphabet = st.sampled_from([*letter_sets[burst % 2], *CONTROLS])
        chunk = bytes(draw(st.lists(alphabet, max_size=30)))
        out.append((chunk, gap))
    return out


@given(
    st.sampled_from(TERMINATORS),
    st.integers(1, 40),
    bursts(),
    st.lists(st.booleans(), max_size=12),
)
@settings(max_examples=400)
def test_fuzz_never_raises_never_exceeds_the_cap_never_joins_across_a_gap(
    terminator: Terminator,
    max_length: int,
    chunks: list[tuple[bytes, float]],
    polls: list[bool],
) -> None:
    framer = Framer(terminator, idle_ms=IDLE_MS, max_length=max_length)
    reads: list[RawRead] = []
    now = 0.0
    for i, (chunk, gap) in enumerate(chunks):
        now += gap
        # sometimes the reader polls just before the bytes arrive, sometimes not
        if i < len(polls) and polls[i]:
            flushed = framer.poll(now)
            if flushed is not None:
                reads.append(flushed)
        reads.extend(framer.feed(chunk, now))
    flushed = framer.poll(now + IDLE_S)
    if flushed is not None:
        reads.append(flushed)
    assert not framer.pending

    for read in reads:
        assert 0 < len(read.data) <= max_length
        assert not (set(read.data) & LOW and set(read.data) & HIGH), read
    stamps = [read.monotonic for read in reads]
    assert stamps == sorted(stamps)


@given(
    st.sampled_from(TERMINATORS),
    st.integers(1, 12),
    st.lists(st.sampled_from([*b"AB", 0xFF, *CONTROLS]), max_size=60).map(bytes),
    st.lists(st.integers(0, 60), max_size=8),
)
@settings(max_examples=600)
def test_a_chunk_is_framed_as_its_bytes_one_at_a_time(
    terminator: Terminator, max_length: int, stream: bytes, cuts: list[int]
) -> None:
    """Runs of code bytes are taken whole: stray CRs, noise and the cap come out the same."""
    bounds = sorted({0, len(stream), *(cut for cut in cuts if cut < len(stream))})
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    whole = Framer(terminator, idle_ms=IDLE_MS, max_length=max_length)
    single = Framer(terminator, idle_ms=IDLE_MS, max_length=max_length)
    by_chunk = [read for chunk in chunks for read in whole.feed(chunk, 1.0)]
    by_byte = [read for byte in stream for read in single.feed(bytes([byte]), 1.0)]
    assert by_chunk == by_byte
    assert whole.poll(1.0 + IDLE_S) == single.poll(1.0 + IDLE_S)
