"""The common GS1 messages read without biip's per-element extras, exactly as biip reads them.

What biip costs (about 40 µs for ``(01)…(21)…``, of which ``Gtin.parse`` is
about 12): for every element it scans its AI table, builds a
``GS1ElementString`` and copies it with ``dataclasses.replace`` once or twice
(the decimal step always copies), and for a GTIN it also looks the number up
in its GS1 prefix and company prefix tries and checks it for restricted
circulation rules. None of that reaches a `Barcode`: the scan needs each
element's AI and value, whether a check digit is wrong, and whether a date
is a real date. biip's ``ParseConfig`` has no option to skip the extras, and
serialized codes never repeat, so a cache of messages would not pay either;
this module does the reading itself for the labels the shop floor prints and
says "not sure" (None) for everything else.

What it covers: element strings (FNC1 sent as GS) and the ``(nn)`` form whose
every AI is in `COVERED_AIS`. Each value is matched with biip's own pattern
for its AI, taken from biip's AI table at import, and the message is walked
the way ``GS1Message.parse`` and ``GS1Message.parse_hri`` walk it: the same
stripping, the same cut at GS, the same greedy match and the same next AI.
The extras it replaces are small and exact: a mod-10 check digit for (00),
(01), (02) (biip's only error for 18 or 14 ASCII digits) and the calendar for
the date AIs (a day that exists in its month in every year).

Why the fallback is safe: whenever a value does not match its pattern, an AI
is not covered (unknown, or known with extras this module does not redo such
as GLNs, measures and date-times), or a date is impossible or 29 February
(where biip's answer depends on its century rule), the reader returns None
and the caller asks biip, which then decides as if this module did not
exist. A wrong answer can only come from a message this module does read,
and tests/unit/test_gs1_differential.py compares those with biip's reading.

The caller has already refused non-ASCII text, stripped leading GS characters
and checked the ``(nn)`` form's shape, as it does before calling biip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from biip.gs1_application_identifiers import GS1ApplicationIdentifier

__all__ = [
    "COVERED_AIS",
    "ElementStrings",
    "ReadMessage",
    "read_element_strings",
    "read_hri",
    "read_serialized_hri",
]

GS: Final = "\x1d"

#: Every (ai, value) of a message, in the order read.
ElementStrings = tuple[tuple[str, str], ...]
#: A message as read: its elements, and whether any check digit is wrong.
ReadMessage = tuple[ElementStrings, bool]


class _Extra(Enum):
    """What biip does with a value beyond matching its pattern, for the covered AIs."""

    NONE = "none"
    CHECK_DIGIT = "check-digit"  # GTIN or SSCC: a wrong check digit is a field error
    DATE = "date"  # YYMMDD: an impossible date makes the message unreadable


# The AIs on the labels this product reads: identity (SSCC, GTIN, content),
# batch, dates, serial, counts, order and internal references. Each one's
# handling by biip is its pattern plus at most the extra named here.
_EXTRAS: Final[dict[str, _Extra]] = {
    "00": _Extra.CHECK_DIGIT,
    "01": _Extra.CHECK_DIGIT,
    "02": _Extra.CHECK_DIGIT,
    "10": _Extra.NONE,
    "11": _Extra.DATE,
    "12": _Extra.DATE,
    "13": _Extra.DATE,
    "15": _Extra.DATE,
    "16": _Extra.DATE,
    "17": _Extra.DATE,
    "20": _Extra.NONE,
    "21": _Extra.NONE,
    "22": _Extra.NONE,
    "30": _Extra.NONE,
    "37": _Extra.NONE,
    "240": _Extra.NONE,
    "241": _Extra.NONE,
    "250": _Extra.NONE,
    "400": _Extra.NONE,
    **{str(ai): _Extra.NONE for ai in range(90, 100)},
}
COVERED_AIS: Final = frozenset(_EXTRAS)


@dataclass(frozen=True, slots=True)
class _Field:
    """One covered AI: its value pattern (biip's, without the AI and anchors) and extra."""

    ai: str
    value: re.Pattern[str]
    extra: _Extra


def _field(ai: str, extra: _Extra) -> _Field:
    # biip's patterns read "^<ai>(<value>)$"; the value part alone can match at
    # any position of the message, which saves slicing it for every element.
    pattern = GS1ApplicationIdentifier.extract(ai).pattern
    head = f"^{ai}"
    if not (pattern.startswith(head) and pattern.endswith("$")):
        raise ValueError(f"unexpected biip pattern for AI ({ai}): {pattern!r}")
    value = re.compile(pattern[len(head) : -1])
    if value.groups != 1:  # biip joins the groups; one group is its value as is
        raise ValueError(f"biip pattern for AI ({ai}) has {value.groups} groups")
    return _Field(ai, value, extra)


_FIELDS: Final = {ai: _field(ai, extra) for ai, extra in _EXTRAS.items()}

# The label of a serialized unit, "(01)<GTIN>(21)<serial>" with nothing else: the
# scan every ship station reads. One match of biip's two patterns in a row reads it
# (ASCII digits only, as the caller's ASCII check would demand); a serial holding "("
# is cut there by the (nn) form, so it is left to the general reader.
_SERIALIZED_HRI: Final = re.compile(
    rf"\(01\){_FIELDS['01'].value.pattern}\(21\){_FIELDS['21'].value.pattern}", re.ASCII
)


def read_element_strings(body: str) -> ReadMessage | None:
    """Element strings as ``GS1Message.parse`` reads them, or None when not sure."""
    text = body.strip()  # as biip does; GS counts as whitespace to str.strip()
    end = len(text)
    elements: list[tuple[str, str]] = []
    bad_check_digit = False
    at = 0
    stop = -1  # where the field at ``at`` must end: the next GS, or the end
    while at < end:
        # GS1 AIs are prefix-free, so at most one of these is an AI at all.
        field = _FIELDS.get(text[at : at + 2]) or _FIELDS.get(text[at : at + 3])
        if field is None:
            return None
        if stop < at:  # searched again only past the last GS: linear in the message
            found_gs = text.find(GS, at)
            stop = end if found_gs < 0 else found_gs
        matched = field.value.match(text, at + len(field.ai), stop)
        if matched is None:
            return None
        value = matched.group(1)
        checked = _checked(field, value, bad_check_digit)
        if checked is None:
            return None
        bad_check_digit = checked
        elements.append((field.ai, value))
        at = matched.end()
        while at < end and text[at] == GS:
            at += 1
    return tuple(elements), bad_check_digit


def _checked(field: _Field, value: str, bad_check_digit: bool) -> bool | None:
    """Whether the message has a bad check digit once ``value`` is read; None when not sure."""
    if field.extra is _Extra.CHECK_DIGIT:
        return bad_check_digit or not _check_digit_ok(value)
    if field.extra is _Extra.DATE and not _surely_a_date(value):
        return None
    return bad_check_digit


def read_hri(body: str) -> ReadMessage | None:
    """The ``(nn)`` form as ``GS1Message.parse_hri`` reads it, or None when not sure.

    ``body`` must already be a whole sequence of "(AI)data" pairs, whitespace
    only around an AI (the caller's check); biip then deletes all whitespace.
    """
    text = "".join(body.split())
    end = len(text)
    elements: list[tuple[str, str]] = []
    bad_check_digit = False
    at = 0
    while at < end:
        close = text.find(")", at)
        if text[at] != "(" or close < 0:  # not the shape the caller promised
            return None
        ai = text[at + 1 : close]
        field = _FIELDS.get(ai)
        if field is None:
            return None
        after = text.find("(", close)
        stop = end if after < 0 else after
        matched = field.value.fullmatch(text, close + 1, stop)
        if matched is None:
            return None
        value = matched.group(1)
        checked = _checked(field, value, bad_check_digit)
        if checked is None:
            return None
        bad_check_digit = checked
        elements.append((ai, value))
        at = stop
    return tuple(elements), bad_check_digit


def read_serialized_hri(text: str) -> tuple[str, str, bool] | None:
    """GTIN, serial and whether the GTIN's check digit is wrong, for exactly
    ``(01)<GTIN>(21)<serial>``; None for any other text (read it the general way).

    The whole decoded code, before any other check: such text is ASCII, carries
    no AIM identifier or GS, has the (nn) form's shape, and reads as these two
    elements, just as the general path and biip read it.
    """
    matched = _SERIALIZED_HRI.fullmatch(text)
    if matched is None:
        return None
    gtin, serial = matched.groups()
    if "(" in serial:
        return None
    return gtin, serial, not _check_digit_ok(gtin)


def _check_digit_ok(digits: str) -> bool:
    """The GS1 mod-10 rule over ASCII digits: weight 3 on every other digit from the right."""
    # Summed as bytes (digit d is byte 48 + d): one C loop per weight instead
    # of an int() call per digit, the largest cost of this reader otherwise.
    code = digits.encode("ascii")
    tripled = code[-2::-2]
    single = code[-3::-2]
    total = 3 * (sum(tripled) - 48 * len(tripled)) + sum(single) - 48 * len(single)
    return (total + code[-1] - 48) % 10 == 0


def _surely_a_date(yymmdd: str) -> bool:
    # Day 00 means the month's last day. Whether 29 February exists depends on
    # the century biip picks for YY, so that day is left to biip; every other
    # day either exists in its month in every year or in none.
    month = int(yymmdd[2:4])
    day = int(yymmdd[4:6])
    return 1 <= month <= 12 and day <= _DAYS_IN_MONTH[month - 1]


_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
