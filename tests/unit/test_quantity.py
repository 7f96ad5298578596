"""Exact quantities: what input is accepted, how it is written back, and that nothing rounds."""

from __future__ import annotations

from decimal import Decimal, Inexact

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.domain import exactjson
from edge.domain.event_layout import lines_payload
from edge.domain.ports import Balance
from edge.domain.quantity import (
    CONTEXT,
    QuantityError,
    add,
    ceil_multiple,
    div,
    format_quantity,
    from_storage,
    mul,
    parse_quantity,
    to_storage,
    total,
)

D = Decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", D(0)),
        ("12", D(12)),
        ("007", D(7)),
        ("-3", D(-3)),
        ("0.25", D("0.25")),
        ("-0.5", D("-0.5")),
        ("1.123456", D("1.123456")),  # six decimals: the most allowed
        ("10000", D(10000)),
        ("123456789012345678901234567890", D("123456789012345678901234567890")),
    ],
)
def test_parse_accepts_plain_decimals_exactly(text: str, expected: Decimal) -> None:
    parsed = parse_quantity(text)
    assert parsed == expected
    assert parsed.as_tuple() == expected.as_tuple()  # same digits, not merely equal


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1e3",
        "1E3",
        "1E-3",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-inf",
        "1_000",
        "1,5",
        "1.1234567",  # seven decimals is an error, never rounded
        "0.0000001",
        "١٢",  # Arabic-Indic digits
        "۳",  # Extended Arabic-Indic digit
        "\uff11\uff12",  # full-width digits
        "+1",
        "--1",
        ".5",
        "5.",
        "1.2.3",
        " 1",
        "1 ",
        "1\n",
        "0x10",
        "½",
        "1" * 41,  # longer than any quantity a person types
    ],
)
def test_parse_rejects_everything_else(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_parse_error_shows_the_input_and_the_expected_form() -> None:
    with pytest.raises(QuantityError, match=r"'1e3' is not a quantity"):
        parse_quantity("1e3")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("-0"), "0"),
        (D("-0.000"), "0"),
        (D("0E-7"), "0"),
        (D("0.30"), "0.3"),
        (D("1.500000"), "1.5"),
        (D("-2.50"), "-2.5"),
        (D("1E+3"), "1000"),
        (D("100"), "100"),
        (D("1E-7"), "0.0000001"),
        (D("1.5E-10"), "0.00000000015"),
        (D("4.361775E-1"), "0.4361775"),
        (D("12345678901234567890.000001"), "12345678901234567890.000001"),
    ],
)
def test_format_is_plain_without_exponent_or_negative_zero(value: Decimal, text: str) -> None:
    assert format_quantity(value) == text
    assert to_storage(value) == text
    assert from_storage(text) == value


def test_json_writes_exact_numbers_not_floats_or_strings() -> None:
    payload = {"quantity": add(add(D("0.1"), D("0.1")), D("0.1")), "zero": D("-0"), "n": 3}
    assert exactjson.dumps(payload) == '{"quantity":0.3,"zero":0,"n":3}'
    assert exactjson.loads('{"quantity":0.3}') == {"quantity": D("0.3")}


@pytest.mark.parametrize("stored", ["NaN", "Infinity", "-Infinity"])
def test_storage_refuses_non_finite_values(stored: str) -> None:
    with pytest.raises(QuantityError):
        from_storage(stored)


@pytest.mark.parametrize(
    ("a", "b", "product"),
    [
        ("0.1", "3", "0.3"),
        ("0.311", "0.0275", "0.0085525"),
        ("0.0085525", "51", "0.4361775"),
        ("2.2", "3.15", "6.93"),
        ("0.000001", "0.000001", "0.000000000001"),
        # far beyond a float's 17 digits, still exact
        ("123456789.123456", "987654321.654321", "121932631315347490.569424853376"),
    ],
)
def test_multiplication_is_exact(a: str, b: str, product: str) -> None:
    result = mul(D(a), D(b))
    assert result == D(product)
    assert format_quantity(result) == product


def test_sums_are_exact() -> None:
    assert total([D("0.1")] * 3) == D("0.3")
    assert total([D("0.1")] * 10) == D(1)
    assert total([]) == D(0)


def test_a_deep_product_keeps_every_digit() -> None:
    # Twenty BOM levels of 1.01 (1 % scrap) each: 41 significant digits, none lost
    # (a float, or the default 28-digit context, would round this).
    factor = D(1)
    for _ in range(20):
        factor = mul(factor, D("1.01"))
    assert format_quantity(factor) == "1.2201900399479668244827490915525641902001"


def test_a_division_that_cannot_be_exact_raises_instead_of_rounding() -> None:
    assert div(D(1), D(8)) == D("0.125")
    with pytest.raises(Inexact):
        div(D(1), D(3))


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        ("40", "12", "48"),
        ("48", "12", "48"),
        ("49", "12", "60"),
        ("0.5", "0.25", "0.5"),
        ("0.51", "0.25", "0.75"),
        ("1", "5", "5"),
        ("30", "7.5", "30"),
    ],
)
def test_ceil_multiple(value: str, step: str, expected: str) -> None:
    assert ceil_multiple(D(value), D(step)) == D(expected)


@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.builds(
        Decimal, st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,30})?(E[+-]?[0-9]{1,3})?", fullmatch=True)
    )
)
def test_format_quantity_is_the_normalized_plain_literal(value: Decimal) -> None:
    expected = "0" if value.is_zero() else format(value.normalize(CONTEXT), "f")
    assert format_quantity(value) == expected
    assert Decimal(format_quantity(value)) == value


def test_a_json_fragment_is_written_as_it_is_and_lines_render_exactly() -> None:
    lines = ((PART_A, Decimal("1.650"), "m"), (PART_B, Decimal("-0.000"), None))
    rendered = lines_payload(lines)
    assert rendered == (
        '[{"part":"R-1","quantity":1.65,"uom":"m"},{"part":"R \\"2\\"","quantity":0,"uom":null}]'
    )
    assert exactjson.loads(exactjson.dumps({"lines": rendered}))["lines"][0] == {
        "part": PART_A,
        "quantity": Decimal("1.65"),
        "uom": "m",
    }
    # An equal list renders the same canonical text, whatever its trailing zeros.
    assert lines_payload(((PART_A, Decimal("1.65"), "m"), (PART_B, Decimal(0), None))) == rendered
    # A plain string that looks like JSON is still a string.
    assert exactjson.dumps({"x": "[1]"}) == '{"x":"[1]"}'
    assert exactjson.dumps({"x": exactjson.Fragment("[1]")}) == '{"x":[1]}'


PART_A, PART_B = "R-1", 'R "2"'


def test_a_named_tuple_is_refused_rather_than_written_as_a_bare_array() -> None:
    with pytest.raises(TypeError, match="named tuple Balance"):
        exactjson.dumps({"balance": Balance(D("1"))})
    assert exactjson.dumps({"pair": (D("1"), "EA")}) == '{"pair":[1,"EA"]}'  # plain tuples are
