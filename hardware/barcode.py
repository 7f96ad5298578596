"""Raw scanner bytes -> a decoded `Barcode`: framing, AIM symbology identifier and GS1.

This is interpretation steps 1 and 3 of a scan (SPEC §4): strip the configured
prefix/suffix and the AIM identifier, then read GS1 element strings: the
common forms with `hardware.gs1_fast`, everything else with ``biip``, to the
same result (`decode_with_biip` is the reference). It knows barcodes only;
matching a code to a part, control codes and every inventory rule live in
``edge``.

`decode` never raises for a problem with the input: a code that cannot be used
comes back with ``error`` set to a short reason code and ``text`` still filled,
so the scan can be journaled with the code that was read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple

from biip import BiipException
from biip.checksums import gs1_standard_check_digit
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin

from hardware.gs1_fast import ReadMessage, read_element_strings, read_hri, read_serialized_hri

__all__ = [
    "ERROR_CODES",
    "Barcode",
    "GS1Data",
    "decode",
    "gtin_check_digit_ok",
    "normalize_gtin",
]

ERROR_EMPTY: Final = "empty"
ERROR_INVALID_UTF8: Final = "invalid-utf8"
ERROR_GS1_MALFORMED: Final = "gs1-malformed"
ERROR_GS1_CHECK_DIGIT: Final = "gs1-check-digit"
ERROR_GS1_NO_GTIN: Final = "gs1-no-gtin"
ERROR_GS1_BAD_COUNT: Final = "gs1-bad-count"

#: Every value `Barcode.error` can take besides None.
ERROR_CODES: Final = frozenset(
    {
        ERROR_EMPTY,
        ERROR_INVALID_UTF8,
        ERROR_GS1_MALFORMED,
        ERROR_GS1_CHECK_DIGIT,
        ERROR_GS1_NO_GTIN,
        ERROR_GS1_BAD_COUNT,
    }
)

GS: Final = "\x1d"  # ASCII group separator: how scanners transmit FNC1

# AIM identifiers of symbologies that carry GS1 element strings: GS1-128,
# GS1 DataBar, GS1 Composite (two variants), GS1 DataMatrix, GS1 QR, GS1 DotCode.
GS1_SYMBOLOGIES: Final = frozenset({"]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"})

# AIM identifier (ISO/IEC 15424): "]", a flag letter, one modifier character.
# Plain ASCII classes on purpose: str.isalnum() would also accept e.g. "é".
_AIM_ID = re.compile(r"\][A-Za-z][0-9A-Za-z]")
# A leading "(nn)" (AIs are 2 to 4 digits) marks the human-readable form.
_HRI_START = re.compile(r"\([0-9]{2,4}\)")
# The whole HRI text must be "(AI)data" pairs, with whitespace only around an
# AI, as printed under a label. biip's own reader skips anything between pairs
# it does not recognise ("(01)...(x)(21)..." loses "(x)") and deletes all
# whitespace ("(21)A B" would read as serial "AB"), so such text is rejected
# here rather than read as something the label does not say.
_HRI_FULL = re.compile(r"(?:\s*\([0-9]+\)\s*[^(\s]+)+\s*")
_ASCII_DIGITS = re.compile(r"[0-9]+")

_GTIN_LENGTHS: Final = frozenset({8, 12, 13, 14})


@dataclass(frozen=True, slots=True)
class GS1Data:
    """What the scan layer needs from a GS1 message, plus every element as read."""

    gtin: str | None  # 14 digits, from AI (01), or from (02) when (37) is present
    gtin_source: str | None  # "01" or "02"
    serial: str | None  # AI (21)
    count: int | None  # AI (30) or (37): the label's quantity
    batch: str | None  # AI (10)
    elements: tuple[tuple[str, str], ...]  # every (ai, value) in order, as read


class Barcode(NamedTuple):
    """One decoded code. ``error`` is None when the code is usable as read."""

    text: str  # the code after stripping prefix, suffix and AIM identifier
    symbology: str | None  # the AIM identifier as read, e.g. "]C1"; None when absent
    gs1: GS1Data | None  # set when the code was recognised as GS1 and parsed
    error: str | None  # None when fine, else one of ERROR_CODES


def gtin_check_digit_ok(digits: str) -> bool:
    """Whether ``digits`` is a GTIN-8/12/13/14 (ASCII digits) with a correct check digit."""
    if len(digits) not in _GTIN_LENGTHS or not _ASCII_DIGITS.fullmatch(digits):
        return False
    return gs1_standard_check_digit(digits[:-1]) == int(digits[-1])


def normalize_gtin(digits: str) -> str | None:
    """A GTIN-8/12/13/14 with a correct check digit as 14 digits, else None.

    Leading zeros do not change a GS1 check digit, so padding keeps it valid
    and every length of the same item compares equal.
    """
    # Checked here first: biip also accepts surrounding whitespace and
    # non-ASCII decimal digits, neither of which is a GTIN on a label.
    if not gtin_check_digit_ok(digits):
        return None
    try:
        return Gtin.parse(digits).as_gtin_14()
    except BiipException:  # not expected after the check above; never raise from here
        return None


def decode(raw: bytes, *, prefix: bytes = b"", suffix: bytes = b"") -> Barcode:
    """Decode one read: strip framing and AIM identifier, then parse GS1 if it applies.

    Never raises on any input. Bytes that are not UTF-8 are kept as Latin-1
    (one code point per byte) so the journal still shows what was read.
    Common GS1 messages are read by `hardware.gs1_fast`, the rest by biip;
    the result is the same as `decode_with_biip`'s.
    """
    body = raw.removeprefix(prefix).removesuffix(suffix)
    # The serialized unit's label first: one match instead of the general reader's
    # steps, which on a writer woken from idle cost about 40 µs more.
    if body.startswith(b"(01)"):
        text = body.decode("latin-1")  # what it matches is ASCII, the same in UTF-8
        serialized = read_serialized_hri(text)
        if serialized is not None:
            return _serialized(text, *serialized)
    return _decode(body, _read_fast_or_with_biip)


def decode_with_biip(raw: bytes, *, prefix: bytes = b"", suffix: bytes = b"") -> Barcode:
    """`decode` with every GS1 message read by biip: the reference the fast reader must match."""
    return _decode(raw.removeprefix(prefix).removesuffix(suffix), _read_with_biip)


# Reads a GS1 message body (leading GS stripped, ASCII) in element string form
# or, when the flag is set, in the (nn) form; None when it cannot be read.
_MessageReader = Callable[[str, bool], ReadMessage | None]


def _decode(body: bytes, reader: _MessageReader) -> Barcode:
    """``body``: the read without the configured prefix and suffix."""
    try:
        text = body.decode("utf-8")
        error: str | None = None
    except UnicodeDecodeError:
        text = body.decode("latin-1")
        error = ERROR_INVALID_UTF8

    symbology: str | None = None
    if _AIM_ID.match(text):
        symbology, text = text[:3], text[3:]

    if not text:
        return Barcode(text=text, symbology=symbology, gs1=None, error=ERROR_EMPTY)
    if error is not None:
        # Undecodable bytes cannot be a GS1 message (GS1 data is ASCII).
        return Barcode(text=text, symbology=symbology, gs1=None, error=error)
    if not _is_gs1(text, symbology):
        return Barcode(text=text, symbology=symbology, gs1=None, error=None)

    result = _read_gs1(text, reader)
    if isinstance(result, str):
        return Barcode(text=text, symbology=symbology, gs1=None, error=result)
    return Barcode(text=text, symbology=symbology, gs1=result, error=None)


def _serialized(text: str, gtin: str, serial: str, bad_check_digit: bool) -> Barcode:
    if bad_check_digit:
        return Barcode(text=text, symbology=None, gs1=None, error=ERROR_GS1_CHECK_DIGIT)
    gs1 = GS1Data(gtin, "01", serial, None, None, (("01", gtin), ("21", serial)))
    return Barcode(text=text, symbology=None, gs1=gs1, error=None)


def _is_gs1(text: str, symbology: str | None) -> bool:
    return symbology in GS1_SYMBOLOGIES or text.startswith(GS) or _HRI_START.match(text) is not None


def _read_gs1(text: str, reader: _MessageReader) -> GS1Data | str:
    """Read a GS1 message and apply the scan's rules; return its data, or an error code."""
    # GS1 data is ASCII. biip's patterns use \d, which also matches non-ASCII
    # decimal digits, so such text is refused before it can yield a "GTIN".
    if not text.isascii():
        return ERROR_GS1_MALFORMED
    body = text.lstrip(GS)
    hri = body.startswith("(")
    if hri and not _HRI_FULL.fullmatch(body):
        return ERROR_GS1_MALFORMED
    message = reader(body, hri)
    if message is None:
        return ERROR_GS1_MALFORMED
    found, bad_check_digit = message
    if not found:
        return ERROR_GS1_MALFORMED

    # The same AI twice with different values makes the label ambiguous
    # (GS1 General Specifications forbid it); the same value twice is harmless.
    first: dict[str, str] = {}
    for ai, value in found:
        if first.setdefault(ai, value) != value:
            return ERROR_GS1_MALFORMED

    # A wrong check digit in a GTIN, SSCC or GLN field leaves the message
    # readable (biip reports it as a field error); any of them means a bad label.
    if bad_check_digit:
        return ERROR_GS1_CHECK_DIGIT

    # (30) and (37) each state the label's quantity; with both there is no
    # single answer, and guessing would move the wrong amount of stock.
    if "30" in first and "37" in first:
        return ERROR_GS1_MALFORMED
    count: int | None = None
    count_value = first.get("30", first.get("37"))
    if count_value is not None:
        count = _positive_count(count_value)
        if count is None:
            return ERROR_GS1_BAD_COUNT

    # (01) is the item itself; (02) names the items inside a logistic unit and
    # counts as the item only together with their count (37). Both are exactly
    # 14 digits with a correct check digit here, which is the GTIN-14 itself.
    if "01" in first:
        gtin_source = "01"
    elif "02" in first and "37" in first:
        gtin_source = "02"
    else:
        return ERROR_GS1_NO_GTIN

    return GS1Data(
        gtin=first[gtin_source],
        gtin_source=gtin_source,
        serial=first.get("21"),
        count=count,
        batch=first.get("10"),
        elements=found,
    )


def _read_fast_or_with_biip(body: str, hri: bool) -> ReadMessage | None:
    fast = read_hri(body) if hri else read_element_strings(body)
    return fast if fast is not None else _read_with_biip(body, hri)


def _read_with_biip(body: str, hri: bool) -> ReadMessage | None:
    try:
        message = GS1Message.parse_hri(body) if hri else GS1Message.parse(body)
    # biip documents ParseError (a BiipException) and ValueError for bad input.
    except (BiipException, ValueError):
        return None
    found = message.element_strings
    elements = tuple((e.ai.ai, e.value) for e in found)
    return elements, any(e.gtin_error or e.sscc_error or e.gln_error for e in found)


def _positive_count(value: str) -> int | None:
    # biip's patterns allow an empty (30), and int() would accept "+5" or " 5".
    if not _ASCII_DIGITS.fullmatch(value):
        return None
    count = int(value)
    return count if count > 0 else None
