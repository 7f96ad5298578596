"""decode() equals the biip-only decode_with_biip() on generated codes, valid and not.

A seeded generator builds reads the way they arrive: an optional AIM
identifier, GS1 element strings or the (nn) form, the AIs of real labels and
some the fast reader leaves to biip, right and wrong check digits, fields too
short or too long, variable fields ending at GS or at the end, duplicated AIs,
dates on month edges, whitespace, stray separators, non-ASCII digits,
invalid UTF-8 and configured prefixes and suffixes; a share of them then gets
a random edit. 100,000 codes in chunks, so pytest-xdist spreads them; the same
generator under hypothesis shrinks a disagreement to a short example.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.barcode import ERROR_CODES, Barcode, decode, decode_with_biip
from hardware.gs1_fast import read_element_strings, read_hri, read_serialized_hri

GS = "\x1d"
CHUNKS = 20
CODES_PER_CHUNK = 5_000

# The GS1 "X" character set (82 characters) that text fields allow.
X_CHARS = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
LABEL_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-/."
# Characters a label should not hold: outside X, whitespace, separators,
# non-ASCII digits (Arabic-Indic, fullwidth), letters outside ASCII.
NASTY = " \t\r\n#$@[]\\^`{}~\x1c\x1e\x1f" + GS + "()" + "\u0660\u0665\uff11\u00e9\u00a0"
# GS1 symbologies first, then some that carry no GS1 message.
AIMS = ("]C1", "]C1", "]C1", "]d2", "]d2", "]d2", "]Q3", "]e0", "]J1", "", "]C0", "]E0", "]X9")
DATE_AIS = ("11", "12", "13", "15", "16", "17")
# Text AIs and their longest value.
TEXT_AIS = {"10": 20, "21": 20, "22": 20, "240": 30, "241": 30, "250": 30, "400": 30, "90": 30}
TEXT_AIS |= {str(ai): 90 for ai in range(91, 100)}
FIXED_LENGTH_AIS = frozenset({"00", "01", "02", "03", "20", *DATE_AIS})
# AIs with extras the fast reader leaves to biip (GTIN-03, GLN, measures,
# date-times, composite fields) with digits of their length, and numbers that
# are no AI at all.
OTHER_AIS = {
    "03": 14, "410": 13, "414": 13, "3103": 6, "3922": 5, "7003": 10, "4324": 10,
    "8003": 14, "253": 13, "23": 4, "04": 14, "0": 3,
}  # fmt: skip


@dataclass(frozen=True)
class Read:
    raw: bytes
    prefix: bytes
    suffix: bytes


def check_digit(payload: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str((10 - total % 10) % 10)


def gtin_like(rng: random.Random, length: int) -> str:
    """``length`` digits ending in a check digit, usually right; shapes biip tells apart."""
    shape = rng.random()
    if shape < 0.15:  # a GTIN-8 or GTIN-12 padded with zeros
        significant = rng.choice((7, 11))
        payload = "0" * (length - 1 - significant) + _digits(rng, significant)
    elif shape < 0.25:  # restricted circulation (02, 04, 2x prefixes) or all zeros
        head = rng.choice(("002", "004", "02", "020", "0000000", "2", "09"))
        payload = (head + _digits(rng, length))[: length - 1]
    else:
        payload = _digits(rng, length - 1)
    digit = check_digit(payload)
    if rng.random() < 0.1:
        digit = str((int(digit) + rng.randint(1, 9)) % 10)
    return payload + digit


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def date_like(rng: random.Random) -> str:
    # Month and day edges: 29 February in leap and other years (and in the
    # years biip puts in the last century), day 00, month 00 and 13.
    year = rng.choice((f"{rng.randint(0, 99):02d}", "00", "24", "25", "77", "96", "99"))
    month = rng.choice((*[rng.randint(1, 12)] * 7, 2, 0, 13))
    day = rng.choice((*[rng.randint(1, 28)] * 5, 0, 28, 29, 30, 31, 32))
    return f"{year}{month:02d}{day:02d}"


def text_like(rng: random.Random, longest: int) -> str:
    edge = rng.random()
    if edge < 0.85:
        length = rng.randint(1, min(longest, 12))
    else:
        length = rng.choice((1, longest, longest + 1, 0))
    # Labels mostly print letters, digits and a few marks; the whole X set
    # holds "(" and ")", which end a value in the (nn) form.
    alphabet = LABEL_CHARS if rng.random() < 0.85 else X_CHARS
    value = "".join(rng.choice(alphabet) for _ in range(length))
    if value and rng.random() < 0.05:
        at = rng.randrange(len(value))
        value = value[:at] + rng.choice(NASTY) + value[at + 1 :]
    return value


def count_like(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return str(rng.choice((rng.randint(1, 500), rng.randint(1, 99_999_999))))
    return rng.choice(("0", "00000000", "", "007", "123456789", "+5", "\u0665", "1 2"))


def element(rng: random.Random) -> tuple[str, str]:
    """One (ai, value): mostly the AIs of real labels, some others."""
    pick = rng.random()
    if pick < 0.08:  # a second GTIN, or the GTIN of the contents
        ai = rng.choice(("01", "02", "02"))
        value = gtin_like(rng, 14)
    elif pick < 0.11:
        ai, value = "00", gtin_like(rng, 18)
    elif pick < 0.7:
        ai = rng.choice(tuple(TEXT_AIS))
        value = text_like(rng, TEXT_AIS[ai])
    elif pick < 0.8:
        ai, value = rng.choice(("30", "37")), count_like(rng)
    elif pick < 0.9:
        ai, value = rng.choice(DATE_AIS), date_like(rng)
    elif pick < 0.93:
        ai, value = "20", _digits(rng, 2)
    else:
        ai = rng.choice(tuple(OTHER_AIS))
        value = gtin_like(rng, OTHER_AIS[ai])
    if rng.random() < 0.03:  # a fixed field a digit short or long
        value = value[:-1] if rng.random() < 0.5 else value + rng.choice("0123456789")
    return ai, value


def elements(rng: random.Random) -> list[tuple[str, str]]:
    found = [("01", gtin_like(rng, 14))] if rng.random() < 0.7 else []
    found += [element(rng) for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3, 5)))]
    if found and rng.random() < 0.1:  # the same AI again, same value or not
        ai, value = rng.choice(found)
        found.insert(rng.randint(0, len(found)), (ai, value if rng.random() < 0.5 else value + "1"))
    return found


def as_element_strings(rng: random.Random, found: list[tuple[str, str]]) -> str:
    parts = [GS * rng.choice((0, 0, 0, 1, 2))]
    for index, (ai, value) in enumerate(found):
        parts.append(ai + value)
        last = index == len(found) - 1
        variable = ai not in FIXED_LENGTH_AIS
        # A variable field ends at GS; scanners sometimes send it after fixed
        # ones too, sometimes forget it (biip then reads greedily), sometimes
        # send a trailing one.
        if (variable and not last and rng.random() < 0.9) or rng.random() < 0.08:
            parts.append(GS * rng.choice((1, 1, 1, 2)))
    return "".join(parts)


def as_hri(rng: random.Random, found: list[tuple[str, str]]) -> str:
    space = " " if rng.random() < 0.15 else ""
    parts = []
    for ai, value in found:
        parts.append(f"{space}({ai}){space}{value}")
        if rng.random() < 0.02:
            parts.append(rng.choice((GS, "\t", "(x)", ")")))
    return "".join(parts)


def mutated(rng: random.Random, text: str) -> str:
    """One random edit: a character deleted, replaced or inserted, or the end cut off."""
    at = rng.randint(0, len(text))
    edit = rng.randrange(4)
    if edit == 0:
        return text[:at] + text[at + 1 :]
    if edit == 1:
        return text[:at] + rng.choice(NASTY + X_CHARS) + text[at + 1 :]
    if edit == 2:
        return text[:at] + rng.choice(NASTY + X_CHARS + "0123456789") + text[at:]
    return text[:at]


def generated_read(rng: random.Random) -> Read:
    if rng.random() < 0.1:  # a serialized unit's label as printed, the ship station's scan
        hri = True
        body = f"(01){gtin_like(rng, 14)}(21){text_like(rng, 21)}"
    else:
        found = elements(rng)
        hri = rng.random() < 0.4
        body = as_hri(rng, found) if hri else as_element_strings(rng, found)
    if rng.random() < 0.05:
        body = rng.choice((" ", "\r\n", "\t", GS)) + body + rng.choice(("", " ", "\r\n"))
    if rng.random() < 0.12:
        body = mutated(rng, body)
    aim = rng.choice(("", "", "]Q3", "]d2")) if hri and rng.random() < 0.8 else rng.choice(AIMS)
    raw = (aim + body).encode()
    if rng.random() < 0.03:
        at = rng.randint(0, len(raw))
        raw = raw[:at] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80")) + raw[at:]
    prefix, suffix = b"", b""
    if rng.random() < 0.15:
        prefix, suffix = rng.choice(((b"\x02", b"\r\n"), (b"", b"\r"), (b"STX:", b""), (b"]", b"")))
        raw = (
            (prefix if rng.random() < 0.8 else b"") + raw + (suffix if rng.random() < 0.8 else b"")
        )
    return Read(raw, prefix, suffix)


def fast_reader_answers(code: Barcode) -> bool:
    """Whether hardware.gs1_fast read this code's message itself, without biip."""
    if code.gs1 is None and code.error != "gs1-check-digit":
        return False
    body = code.text.lstrip(GS)
    hri = body.startswith("(")
    return (read_hri(body) if hri else read_element_strings(body)) is not None


def decoded(read: Read) -> tuple[Barcode, Barcode]:
    """The read through decode() and through the biip-only reference."""
    return (
        decode(read.raw, prefix=read.prefix, suffix=read.suffix),
        decode_with_biip(read.raw, prefix=read.prefix, suffix=read.suffix),
    )


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fast_decode_equals_biip_on_generated_codes(chunk: int) -> None:
    rng = random.Random(f"gs1-differential-{chunk}")
    reads = [generated_read(rng) for _ in range(CODES_PER_CHUNK)]
    results = [decoded(read) for read in reads]
    differ = [
        (read, *both) for read, both in zip(reads, results, strict=True) if both[0] != both[1]
    ]
    assert differ[:5] == []

    # The corpus must reach both readers and every outcome, or the equality
    # above would say little.
    codes = [fast for fast, _ in results]
    outcomes = Counter(code.error for code in codes)
    assert set(outcomes) == {None, *ERROR_CODES}, outcomes
    gs1_read = [code for code in codes if code.gs1 is not None]
    assert len(gs1_read) >= 0.2 * len(codes)
    by_fast_reader = sum(fast_reader_answers(code) for code in gs1_read)
    assert by_fast_reader >= 0.8 * len(gs1_read)
    assert len(gs1_read) - by_fast_reader >= 0.02 * len(gs1_read)
    # The serialized label's own reader, the first decode() tries.
    serialized = [read_serialized_hri(code.text) for code in codes if code.symbology is None]
    assert sum(answer is not None for answer in serialized) >= 0.015 * len(codes)
    assert sum(answer is not None and answer[2] for answer in serialized) >= 0.001 * len(codes)


@settings(max_examples=1_000, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_fast_decode_equals_biip_shrinking(rng: random.Random) -> None:
    read = generated_read(rng)
    fast, reference = decoded(read)
    assert fast == reference, read
