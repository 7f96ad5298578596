"""Argument types of the ``edge`` command: PART, QTY, a build's QTY, and which config is meant."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from edge.cli.arguments import (
    DEFAULT_CONFIG,
    EXIT_USAGE,
    UsageError,
    build_quantity_arg,
    config_path,
    count_arg,
    part_arg,
    quantity_arg,
)
from edge.cli.main import main


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", Decimal(5)), ("-2", Decimal(-2)), ("0", Decimal(0)), ("1.123456", Decimal("1.123456"))],
)
def test_quantity_arg_accepts_exact_decimals(text: str, expected: Decimal) -> None:
    assert quantity_arg(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", Decimal(1)), ("0.000001", Decimal("0.000001")), ("12.5", Decimal("12.5"))],
)
def test_build_quantity_arg_accepts_quantities_above_zero(text: str, expected: Decimal) -> None:
    assert build_quantity_arg(text) == expected


@pytest.mark.parametrize(
    ("function", "text", "message"),
    [
        (quantity_arg, "1e3", "the quantity '1e3' is not an exact decimal: "),
        (quantity_arg, " 5", "the quantity ' 5' is not an exact decimal: "),
        (quantity_arg, "1,5", "the quantity '1,5' is not an exact decimal: "),
        (build_quantity_arg, "1.1234567", "the quantity '1.1234567' is not an exact decimal: "),
        (build_quantity_arg, "0", "the quantity '0' of a build must be greater than zero"),
        (build_quantity_arg, "-1", "the quantity '-1' of a build must be greater than zero"),
        (part_arg, "", "the part number is empty"),
        (part_arg, "A\tB", "the part number "),
        (part_arg, "P" * 65, "the part number is longer than 64 characters"),
    ],
)
def test_bad_arguments_are_usage_errors_naming_the_argument(
    function: Callable[[str], object], text: str, message: str
) -> None:
    with pytest.raises(UsageError) as raised:
        function(text)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("20", 20), ("007", 7)])
def test_count_arg_accepts_whole_numbers_from_zero(text: str, expected: int) -> None:
    assert count_arg(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "'-1' is negative; give 0 or more, e.g. 20"),
        ("2.5", "'2.5' is not a whole number, e.g. 20"),
        ("ten", "'ten' is not a whole number, e.g. 20"),
        ("", "'' is not a whole number, e.g. 20"),
    ],
)
def test_count_arg_refuses_negatives_and_non_integers(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        count_arg(text)
    assert str(raised.value) == message


def test_part_arg_trims_and_keeps_case() -> None:
    assert part_arg("  rm-Rotor ") == "rm-Rotor"


@pytest.mark.parametrize(
    ("option", "environment", "expected"),
    [
        ("given.toml", "env.toml", Path("given.toml")),
        (None, "env.toml", Path("env.toml")),
        (None, None, DEFAULT_CONFIG),
        (None, "", DEFAULT_CONFIG),
    ],
)
def test_config_path_prefers_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, option: str | None, environment: str | None, expected: Path
) -> None:
    if environment is None:
        monkeypatch.delenv("EDGE_CONFIG", raising=False)
    else:
        monkeypatch.setenv("EDGE_CONFIG", environment)
    args = argparse.Namespace() if option is None else argparse.Namespace(config=option)
    assert config_path(args) == expected


@pytest.mark.parametrize("qty", ["0", "-3"])
def test_edge_build_refuses_a_quantity_not_above_zero_before_opening_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, qty: str
) -> None:
    missing = tmp_path / "no-such.toml"
    assert main(["--config", str(missing), "build", "SA-MOTOR-100", qty]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"edge build: the quantity '{qty}' of a build must be greater than zero\n"
    )
    assert not missing.exists()
