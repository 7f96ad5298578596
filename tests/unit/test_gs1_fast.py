"""hardware.gs1_fast: what it reads, what it leaves to biip, and the biip facts it rests on."""

from __future__ import annotations

import pytest
from biip import ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gtin import Gtin
from biip.sscc import Sscc
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.gs1_fast import COVERED_AIS, read_element_strings, read_hri

GS = "\x1d"
GTIN = "09506000134352"
GTIN_BAD = "09506000134351"
CONTENT_GTIN = "19506000134359"
SSCC = "095060001343520001"  # check digit 1 is wrong (the right one is 0)


@pytest.mark.parametrize(
    ("body", "elements", "bad_check_digit"),
    [
        (f"01{GTIN}21ABC123", (("01", GTIN), ("21", "ABC123")), False),
        (
            f"01{GTIN}21SN-7{GS}10LOT/7{GS}305",
            (("01", GTIN), ("21", "SN-7"), ("10", "LOT/7"), ("30", "5")),
            False,
        ),
        (f"01{GTIN}{GS}{GS}17301231{GS}", (("01", GTIN), ("17", "301231")), False),
        (
            f"02{CONTENT_GTIN}3712{GS}10L1",
            (("02", CONTENT_GTIN), ("37", "12"), ("10", "L1")),
            False,
        ),
        (f"01{GTIN_BAD}", (("01", GTIN_BAD),), True),
        (f"00{SSCC}02{CONTENT_GTIN}372", (("00", SSCC), ("02", CONTENT_GTIN), ("37", "2")), True),
        (f"01{GTIN}30", (("01", GTIN), ("30", "")), False),  # (30) may be empty in biip
        # a serial longer than 20 characters without GS: biip reads 20, then the next AI
        (
            f"01{GTIN}21ABCDEFGHIJKLMNOPQRST10X",
            (("01", GTIN), ("21", "ABCDEFGHIJKLMNOPQRST"), ("10", "X")),
            False,
        ),
        (f"01{GTIN}\r\n", (("01", GTIN),), False),  # biip strips the message
        ("", (), False),
    ],
)
def test_element_strings_it_reads(
    body: str, elements: tuple[tuple[str, str], ...], bad_check_digit: bool
) -> None:
    assert read_element_strings(body) == (elements, bad_check_digit)


@pytest.mark.parametrize(
    ("body", "elements", "bad_check_digit"),
    [
        (f"(01){GTIN}(21)ABC123", (("01", GTIN), ("21", "ABC123")), False),
        (f"(01) {GTIN} (21) A)B (10) L", (("01", GTIN), ("21", "A)B"), ("10", "L")), False),
        (f"(01){GTIN}(17)300200(240)X-1", (("01", GTIN), ("17", "300200"), ("240", "X-1")), False),
        (
            f"(02){CONTENT_GTIN}(37)12(00){SSCC}",
            (("02", CONTENT_GTIN), ("37", "12"), ("00", SSCC)),
            True,
        ),
        (f"(01){GTIN_BAD}(91)X", (("01", GTIN_BAD), ("91", "X")), True),
    ],
)
def test_hri_it_reads(
    body: str, elements: tuple[tuple[str, str], ...], bad_check_digit: bool
) -> None:
    assert read_hri(body) == (elements, bad_check_digit)


@pytest.mark.parametrize(
    "body",
    [
        f"01{GTIN}3103001250",  # a measure: biip derives a decimal
        f"01{GTIN}4109506000134352",  # a GLN: biip checks it
        f"03{GTIN}",
        f"01{GTIN}23123",  # no such AI
        f"01{GTIN[:10]}",  # too short
        f"01{GTIN}21A B",  # a space inside
        f" 01{GTIN}21A{GS}#",
        f"01{GTIN}17240229",  # 29 February: biip's century decides
        f"01{GTIN}17301301",  # month 13
        f"01{GTIN}17300000",  # month 00
        f"01{GTIN}17300230",  # 30 February
        f"01{GTIN}17300431",  # 31 April
    ],
)
def test_element_strings_it_leaves_to_biip(body: str) -> None:
    assert read_element_strings(body) is None


@pytest.mark.parametrize(
    "body",
    [
        f"(01){GTIN}(3103)001250",
        f"(01){GTIN}(23)123",
        f"(01){GTIN}(0001)1",
        f"(01){GTIN[:13]}",
        f"(01){GTIN}(21)ABCDEFGHIJKLMNOPQRSTU",  # 21 characters
        f"(01){GTIN}(30)123456789",
        f"(01){GTIN}(17)240229",
        "x(01)1",  # not the shape the caller checks for
        "(01",
    ],
)
def test_hri_it_leaves_to_biip(body: str) -> None:
    assert read_hri(body) is None


@pytest.mark.parametrize("ai", sorted(COVERED_AIS))
def test_biip_reads_each_covered_ai_as_itself(ai: str) -> None:
    # The reader takes the first 2 or 3 characters as the AI; biip takes the
    # first AI in its table that the text starts with. Both agree only while
    # no AI is a prefix of another, whatever digits follow.
    for digit in "0123456789":
        assert GS1ApplicationIdentifier.extract(ai + digit * 4).ai == ai


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=1)


@settings(max_examples=300, deadline=None)
@given(payload=st.text(alphabet="0123456789", min_size=13, max_size=13), last=_DIGITS)
def test_biip_fails_a_14_digit_gtin_only_on_its_check_digit(payload: str, last: str) -> None:
    # What (01) and (02) rely on: 14 ASCII digits are a GTIN exactly when the
    # check digit is right, and the GTIN-14 is then those digits.
    digits = payload + last
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    if (weighted + int(last)) % 10 == 0:
        assert Gtin.parse(digits).as_gtin_14() == digits
    else:
        with pytest.raises(ParseError, match="check digit"):
            Gtin.parse(digits)


@settings(max_examples=300, deadline=None)
@given(payload=st.text(alphabet="0123456789", min_size=17, max_size=17), last=_DIGITS)
def test_biip_fails_an_sscc_only_on_its_check_digit(payload: str, last: str) -> None:
    digits = payload + last
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    if (weighted + int(last)) % 10 == 0:
        assert Sscc.parse(digits).value == digits
    else:
        with pytest.raises(ParseError, match="check digit"):
            Sscc.parse(digits)
