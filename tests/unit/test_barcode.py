"""hardware.barcode: framing, AIM identifiers, GS1 via the real biip, GTIN helpers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.barcode import (
    ERROR_CODES,
    Barcode,
    GS1Data,
    decode,
    decode_with_biip,
    gtin_check_digit_ok,
    normalize_gtin,
)
from hardware.gs1_fast import read_serialized_hri

GS = "\x1d"
# Valid GTINs (check digits computed with the GS1 mod-10 rule).
GTIN = "09506000134352"  # GTIN-13 9506000134352, padded
GTIN_BAD = "09506000134351"  # same, wrong check digit
CONTENT_GTIN = "19506000134359"  # GTIN-14 of a case holding GTIN above
UPC = "012345678905"  # GTIN-12
EAN8 = "95012346"  # GTIN-8
EAN13 = "4012345000016"  # GTIN-13


# The GS1 tables run through decode() (the fast reader where it applies) and
# through the biip-only reference: both must keep every rule.
DECODERS = pytest.mark.parametrize("read", [decode, decode_with_biip], ids=["fast", "biip"])


def gs1(raw: str, read: Callable[[bytes], Barcode] = decode, **kwargs: bytes) -> GS1Data:
    code = read(raw.encode(), **kwargs)
    assert code.error is None, code
    assert code.gs1 is not None, code
    return code.gs1


# --- step 1: AIM symbology identifier ------------------------------------------------


@pytest.mark.parametrize(
    ("aim", "payload", "is_gs1"),
    [
        ("]C1", f"01{GTIN}", True),  # GS1-128
        ("]e0", f"01{GTIN}", True),  # GS1 DataBar
        ("]e1", f"01{GTIN}", True),  # GS1 Composite
        ("]e2", f"01{GTIN}", True),
        ("]d2", f"01{GTIN}", True),  # GS1 DataMatrix
        ("]Q3", f"01{GTIN}", True),  # GS1 QR
        ("]J1", f"01{GTIN}", True),  # GS1 DotCode
        ("]C0", "PART-100", False),  # plain Code 128
        ("]d1", "PART-100", False),  # plain DataMatrix
        ("]Q1", "PART-100", False),
        ("]E0", EAN13, False),  # EAN-13: a GTIN, but not a GS1 message
        ("]E4", EAN8, False),
        ("]A0", "PART-100", False),  # Code 39
        ("]I1", CONTENT_GTIN, False),  # ITF-14
        ("]X0", "PART-100", False),
    ],
)
def test_aim_identifier_is_stripped_and_remembered(aim: str, payload: str, is_gs1: bool) -> None:
    code = decode(f"{aim}{payload}".encode())
    assert code.text == payload
    assert code.symbology == aim
    assert code.error is None
    assert (code.gs1 is not None) is is_gs1


@pytest.mark.parametrize(
    "raw",
    [
        "PART-100",
        "]",  # too short to be an identifier
        "]C",
        "]1A",  # flag character must be a letter
        "]C-",  # modifier must be a letter or digit
        "]Cé",
        " ]C1X",  # only at the very start
    ],
)
def test_text_without_aim_identifier_is_kept(raw: str) -> None:
    code = decode(raw.encode())
    assert code == Barcode(text=raw, symbology=None, gs1=None, error=None)


# --- step 1: configured prefix and suffix --------------------------------------------


@pytest.mark.parametrize(
    ("raw", "prefix", "suffix", "text", "symbology"),
    [
        (b"\x02PART-100\r\n", b"\x02", b"\r\n", "PART-100", None),
        (b"PART-100\r\n", b"\x02", b"\r\n", "PART-100", None),  # prefix absent: only suffix
        (b"\x02PART-100", b"\x02", b"\r\n", "PART-100", None),  # suffix absent: only prefix
        (b"PART-100\n", b"", b"\r\n", "PART-100\n", None),  # partial suffix is not stripped
        (b"\x02]C0PART-100\r", b"\x02", b"\r", "PART-100", "]C0"),  # AIM after the prefix
        (b"]C0\x02PART-100", b"\x02", b"", "\x02PART-100", "]C0"),  # prefix not first: kept
        (b"STX:PART-100:ETX", b"STX:", b":ETX", "PART-100", None),
        (b"PART-100", b"", b"", "PART-100", None),
    ],
)
def test_prefix_and_suffix_are_stripped_when_present(
    raw: bytes, prefix: bytes, suffix: bytes, text: str, symbology: str | None
) -> None:
    code = decode(raw, prefix=prefix, suffix=suffix)
    assert (code.text, code.symbology, code.error) == (text, symbology, None)


def test_prefix_suffix_and_aim_around_a_gs1_message() -> None:
    data = gs1(f"\x02]d201{GTIN}21SN-7\r", prefix=b"\x02", suffix=b"\r")
    assert (data.gtin, data.serial) == (GTIN, "SN-7")


# --- step 3: GS1 ---------------------------------------------------------------------

FULL = GS1Data(
    gtin=GTIN,
    gtin_source="01",
    serial="SN-7",
    count=5,
    batch="LOT/7",
    elements=(("01", GTIN), ("21", "SN-7"), ("10", "LOT/7"), ("30", "5")),
)
CASE = GS1Data(
    gtin=CONTENT_GTIN,
    gtin_source="02",
    serial=None,
    count=12,
    batch="L1",
    elements=(("02", CONTENT_GTIN), ("37", "12"), ("10", "L1")),
)
ONLY_GTIN = GS1Data(GTIN, "01", None, None, None, (("01", GTIN),))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # element strings, GS after each variable-length field
        (f"]C101{GTIN}21SN-7{GS}10LOT/7{GS}305", FULL),
        (f"]d201{GTIN}21SN-7{GS}10LOT/7{GS}305{GS}", FULL),  # trailing GS
        (f"{GS}01{GTIN}21SN-7{GS}10LOT/7{GS}305", FULL),  # leading GS, no AIM identifier
        (f"]C1{GS}01{GTIN}21SN-7{GS}10LOT/7{GS}305", FULL),  # FNC1 in first position
        # human-readable form
        (f"(01){GTIN}(21)SN-7(10)LOT/7(30)5", FULL),
        (f"(01) {GTIN} (21) SN-7 (10) LOT/7 (30) 5", FULL),  # as printed, with spaces
        (f"]Q3(01){GTIN}(21)SN-7(10)LOT/7(30)5", FULL),
        # (02) with (37): a case of trade items
        (f"]C102{CONTENT_GTIN}3712{GS}10L1", CASE),
        (f"(02){CONTENT_GTIN}(37)12(10)L1", CASE),
        # a GTIN alone; leading zeros kept, always 14 digits
        (f"]C101{GTIN}", ONLY_GTIN),
        (f"(01){GTIN}", ONLY_GTIN),
    ],
)
@DECODERS
def test_gs1_messages_are_parsed(
    raw: str, expected: GS1Data, read: Callable[[bytes], Barcode]
) -> None:
    assert gs1(raw, read) == expected


@DECODERS
def test_gs1_keeps_other_elements_in_order(read: Callable[[bytes], Barcode]) -> None:
    data = gs1(f"]C101{GTIN}17301231{GS}10B1{GS}21S1", read)
    assert data.elements == (("01", GTIN), ("17", "301231"), ("10", "B1"), ("21", "S1"))
    assert (data.batch, data.serial, data.count) == ("B1", "S1", None)


@DECODERS
def test_gs1_with_01_takes_the_gtin_from_01(read: Callable[[bytes], Barcode]) -> None:
    data = gs1(f"(01){GTIN}(30)3", read)
    assert (data.gtin, data.gtin_source, data.count) == (GTIN, "01", 3)


@DECODERS
def test_gs1_same_ai_repeated_with_the_same_value_is_accepted(
    read: Callable[[bytes], Barcode],
) -> None:
    assert gs1(f"(01){GTIN}(01){GTIN}", read).gtin == GTIN


@DECODERS
def test_gs1_29_february_is_a_date_in_a_leap_year(read: Callable[[bytes], Barcode]) -> None:
    assert gs1(f"(01){GTIN}(17)240229", read).elements == (("01", GTIN), ("17", "240229"))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        # wrong check digit: biip still parses the message, the field carries the error
        (f"]C101{GTIN_BAD}21SN-7", "gs1-check-digit"),
        (f"(01){GTIN_BAD}(21)SN-7", "gs1-check-digit"),
        (f"{GS}01{GTIN_BAD}", "gs1-check-digit"),
        (f"(02){CONTENT_GTIN[:-1]}0(37)12", "gs1-check-digit"),
        (f"(00)095060001343520001(02){CONTENT_GTIN}(37)2", "gs1-check-digit"),  # SSCC
        # GS1 without a usable GTIN
        ("(10)LOT7", "gs1-no-gtin"),
        (f"]C110LOT7{GS}21SN", "gs1-no-gtin"),
        (f"(02){CONTENT_GTIN}(10)L1", "gs1-no-gtin"),  # (02) without (37)
        ("(37)12(10)L1", "gs1-no-gtin"),
        # counts
        (f"(01){GTIN}(30)0", "gs1-bad-count"),
        (f"(01){GTIN}(30)00000000", "gs1-bad-count"),
        (f"]C101{GTIN}30", "gs1-bad-count"),  # (30) may be empty in the standard's pattern
        (f"(02){CONTENT_GTIN}(37)0", "gs1-bad-count"),
        (f"(01){GTIN}(30)5(37)5", "gs1-malformed"),  # two quantities: ambiguous
        # not readable as GS1
        ("]C1PART-100", "gs1-malformed"),
        ("]d2hello world", "gs1-malformed"),
        (f"]C101{GTIN[:10]}", "gs1-malformed"),  # GTIN too short
        (f"(01){GTIN[:10]}", "gs1-malformed"),
        ("(23)123", "gs1-malformed"),  # no such AI
        (f"(01){GTIN}(17)301399", "gs1-malformed"),  # month 13
        (f"(01){GTIN}junk(", "gs1-malformed"),
        (f"(01){GTIN}(x)(21)SN", "gs1-malformed"),  # biip alone would skip "(x)"
        (f"(01){GTIN}(30)(21)SN", "gs1-malformed"),  # AI without data
        (f"(01){GTIN}(21)A B", "gs1-malformed"),  # spaces are removed in the (nn) form...
        (f"]C101{GTIN}21A B", "gs1-malformed"),  # ...and invalid in element strings
        (f"(01){GTIN}(01){CONTENT_GTIN}", "gs1-malformed"),  # same AI, different values
        ("(01)" + "\u0660" * 14, "gs1-malformed"),  # non-ASCII digits are not a GTIN
        ("]C1\u00e901" + GTIN, "gs1-malformed"),
        (GS, "gs1-malformed"),  # nothing after the separator
        (GS * 3, "gs1-malformed"),
        (f"(01){GTIN}(17)250229", "gs1-malformed"),  # 2025 is no leap year
        (f"]C101{GTIN}17300431", "gs1-malformed"),  # 31 April
    ],
)
@DECODERS
def test_gs1_errors(raw: str, error: str, read: Callable[[bytes], Barcode]) -> None:
    code = read(raw.encode())
    assert code.error == error
    assert code.gs1 is None
    assert code.text == raw.removeprefix(raw[:3] if raw.startswith("]") else "")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (f"(01){GTIN}(21)SN-7", (GTIN, "SN-7", False)),
        (f"(01){GTIN_BAD}(21)SN-7", (GTIN_BAD, "SN-7", True)),
        (f"(01){GTIN}(21)A)B", (GTIN, "A)B", False)),  # ")" is in the serial's set
        (f"(01){GTIN}(21){'9' * 20}", (GTIN, "9" * 20, False)),
        # Everything else is the general reader's: a "(" would start another AI there.
        (f"(01){GTIN}(21)A(B", None),
        (f"(01){GTIN}(21){'9' * 21}", None),
        (f"(01){GTIN}(21)", None),
        (f"(01){GTIN}(21)A B", None),
        (f"(01){GTIN}(21)SN(10)L1", None),
        (f"(01){GTIN[:13]}(21)SN", None),
        ("(01)" + "\u0660" * 14 + "(21)SN", None),
        (f" (01){GTIN}(21)SN", None),
    ],
)
def test_the_serialized_label_reader_answers_only_its_own_form(
    text: str, answer: tuple[str, str, bool] | None
) -> None:
    assert read_serialized_hri(text) == answer
    code = decode(text.encode())
    assert code == decode_with_biip(text.encode())
    if answer is not None:
        assert code.error == ("gs1-check-digit" if answer[2] else None)


def test_ordinary_text_is_not_gs1() -> None:
    for raw in ("PART-100", GTIN, EAN13, "(A)B", "(1)23", "QTY:5", "RSN:DAMAGED", "VOID"):
        code = decode(raw.encode())
        assert code == Barcode(text=raw, symbology=None, gs1=None, error=None)


# --- encoding and empty codes --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text", "symbology"),
    [
        (b"AB\xff\xfeC", "AB\xff\xfeC", None),
        (b"\xc3", "\xc3", None),  # truncated UTF-8 sequence
        (b"\xed\xa0\x80", "\xed\xa0\x80", None),  # encoded surrogate
        (b"]C1\xff" + GTIN.encode(), "\xff" + GTIN, "]C1"),  # never parsed as GS1
    ],
)
def test_invalid_utf8_is_kept_as_latin1_text(raw: bytes, text: str, symbology: str | None) -> None:
    assert decode(raw) == Barcode(text=text, symbology=symbology, gs1=None, error="invalid-utf8")


def test_utf8_text_is_decoded() -> None:
    assert decode("Zürich-Ø1".encode()) == Barcode("Zürich-Ø1", None, None, None)


def test_control_characters_are_kept() -> None:
    assert decode(b"A\x00B\x07").text == "A\x00B\x07"


@pytest.mark.parametrize(
    ("raw", "prefix", "suffix", "symbology"),
    [
        (b"", b"", b"", None),
        (b"]C1", b"", b"", "]C1"),
        (b"]Q1", b"", b"", "]Q1"),
        (b"\x02\r", b"\x02", b"\r", None),
        (b"\x02]d2\r", b"\x02", b"\r", "]d2"),
    ],
)
def test_nothing_left_is_empty(
    raw: bytes, prefix: bytes, suffix: bytes, symbology: str | None
) -> None:
    code = decode(raw, prefix=prefix, suffix=suffix)
    assert code == Barcode(text="", symbology=symbology, gs1=None, error="empty")


# --- robustness ----------------------------------------------------------------------

_AIM_IDS = st.sampled_from(["", "]C1", "]d2", "]Q3", "]e0", "]C0", "]E0", GS, "(01)", "(02)"])
_GS1_FRAGMENTS = st.sampled_from(
    ["01", "02", "10", "17", "21", "30", "37", "00", "414", GTIN, GS, "(", ")", "0", "9", "A"]
)


def _check_invariants(code: Barcode) -> None:
    assert isinstance(code, Barcode)
    assert isinstance(code.text, str)
    assert code.error is None or code.error in ERROR_CODES
    if code.gs1 is not None:
        assert code.error is None
        assert code.gs1.gtin is not None
        assert len(code.gs1.gtin) == 14
        assert code.gs1.gtin.isascii()
        assert code.gs1.gtin.isdigit()
        assert code.gs1.count is None or code.gs1.count > 0


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), prefix=st.binary(max_size=2), suffix=st.binary(max_size=2))
def test_decode_never_raises_on_arbitrary_bytes(raw: bytes, prefix: bytes, suffix: bytes) -> None:
    _check_invariants(decode(raw, prefix=prefix, suffix=suffix))


@settings(max_examples=300, deadline=None)
@given(lead=_AIM_IDS, parts=st.lists(_GS1_FRAGMENTS | st.text(max_size=3), max_size=12))
def test_decode_never_raises_on_near_gs1_text(lead: str, parts: list[str]) -> None:
    # Arbitrary bytes rarely look like GS1; these reach deep into biip.
    _check_invariants(decode((lead + "".join(parts)).encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00" * 10_000,
        b"]C1" + b"1" * 10_000,
        b"]C1" + b"10A\x1d" * 2_500,
        b"(10)A" * 2_000,
        b"(10)A" * 2_000 + b"(",  # fails only at the very end
        b"(10)" + b"A" * 10_000 + b"(x",
        b"\x1d" * 10_000 + b"(01)",
        b"\xff" * 10_000,
    ],
)
def test_decode_handles_long_input(raw: bytes) -> None:
    # Speed is bench/decode.py's to measure; here the answer must be whole.
    code = decode(raw)
    _check_invariants(code)
    assert code == decode_with_biip(raw)


def test_results_are_frozen() -> None:
    code = decode(f"(01){GTIN}".encode())
    # A named tuple (Barcode) and a frozen dataclass (GS1Data) both refuse with an
    # AttributeError (FrozenInstanceError is one).
    with pytest.raises(AttributeError):
        code.text = "x"  # type: ignore[misc]
    assert code.gs1 is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        code.gs1.count = 2  # type: ignore[misc]


def test_barcode_module_does_not_import_edge() -> None:
    probe = (
        "import sys, hardware.barcode; "
        "sys.exit(any(m == 'edge' or m.startswith('edge.') for m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", probe], cwd=root, check=True)


# --- GTIN helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "ok", "normalized"),
    [
        (GTIN, True, GTIN),
        (GTIN.lstrip("0"), True, GTIN),  # GTIN-13
        (CONTENT_GTIN, True, CONTENT_GTIN),
        (UPC, True, "00" + UPC),
        (EAN8, True, "000000" + EAN8),
        (EAN13, True, "0" + EAN13),
        ("00000000", True, "0" * 14),
        (GTIN_BAD, False, None),
        ("95012345", False, None),
        ("9501234", False, None),  # 7 digits
        ("950600013435200", False, None),  # 15 digits
        ("0950600013435", False, None),  # 13 digits, wrong check digit
        ("", False, None),
        (" 95012346", False, None),
        ("95012346\n", False, None),
        ("9501234X", False, None),
        ("\u0669\u0665\u0660\u0661\u0662\u0663\u0664\u0666", False, None),  # Arabic-Indic
    ],
)
def test_gtin_helpers(digits: str, ok: bool, normalized: str | None) -> None:
    assert gtin_check_digit_ok(digits) is ok
    assert normalize_gtin(digits) == normalized


def _mod10_ok(digits: str) -> bool:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


@settings(max_examples=300, deadline=None)
@given(
    digits=st.sampled_from([8, 12, 13, 14]).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    )
)
def test_gtin_helpers_agree_with_the_mod10_rule(digits: str) -> None:
    ok = _mod10_ok(digits)
    assert gtin_check_digit_ok(digits) is ok
    assert normalize_gtin(digits) == (digits.zfill(14) if ok else None)
