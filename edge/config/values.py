"""The value types of config keys: each parses one TOML value, checks it and writes it back.

A value type's ``parse`` takes what the TOML parser produced (floats as
:class:`TomlFloat`, their text kept) and returns the setting, or raises
:class:`~edge.config.problems.Invalid` saying why not; its ``literal`` writes a
setting as TOML for ``format_config``. The helpers here also word the messages
about values: which TOML type a value is and a short rendering of it.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Final, Generic, TypeVar

from edge.config.problems import Invalid, did_you_mean
from edge.domain.quantity import QUANTITY_PATTERN

__all__ = [
    "LOG_LEVELS",
    "Bool",
    "Choice",
    "ChoiceList",
    "FilePath",
    "Float",
    "Int",
    "Latin1",
    "LogLevel",
    "NamePattern",
    "ProtocolVersion",
    "Quantity",
    "StopBits",
    "Text",
    "TextList",
    "TomlFloat",
    "Value",
    "expected",
    "show",
    "toml_literal",
    "toml_string",
    "toml_type",
]

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class TomlFloat:
    """A TOML float as written in the file (the parser's ``parse_float`` hook).

    Keeping the text lets ``max_qty = 2.5`` become exactly ``Decimal("2.5")``
    without passing through a binary float.
    """

    text: str


def toml_type(raw: object) -> str:
    """The TOML type of a parsed value, for messages."""
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int):
        return "an integer"
    if isinstance(raw, TomlFloat):
        return "a float"
    if isinstance(raw, str):
        return "a string"
    if isinstance(raw, list):
        return "an array"
    if isinstance(raw, dict):
        return "a table"
    return "a date or time"


def show(raw: object) -> str:
    """A short rendering of a value for messages."""
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, TomlFloat):
        text = raw.text
    elif isinstance(raw, str):
        text = repr(raw)
    else:
        text = str(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def expected(what: str, raw: object) -> Invalid:
    if isinstance(raw, list | dict):
        return Invalid(f"expected {what}, got {toml_type(raw)}")
    return Invalid(f"expected {what}, got {toml_type(raw)} ({show(raw)})")


def toml_string(text: str, *, escape_high: bool = False) -> str:
    """A TOML basic string; control characters (and, for bytes, U+0080-U+00FF) as \\uXXXX."""

    def escaped(char: str) -> str:
        code = ord(char)
        if char in '"\\':
            return "\\" + char
        if code < 0x20 or 0x7F <= code <= 0x9F or (escape_high and code >= 0x80):
            return f"\\u{code:04X}"
        return char

    return '"' + "".join(escaped(char) for char in text) + '"'


def toml_literal(value: object) -> str:
    """A setting as TOML, for format_config."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Path):
        return toml_string(str(value))
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bytes):
        return toml_string(value.decode("latin-1"), escape_high=True)
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


_T = TypeVar("_T")
_S = TypeVar("_S", bound=str)


class Value(ABC, Generic[_T]):
    """The type of one config value: parses a TOML value or raises Invalid."""

    @abstractmethod
    def parse(self, raw: object) -> _T: ...

    def literal(self, value: _T) -> str:
        """The value as TOML, for format_config."""
        return toml_literal(value)


class Bool(Value[bool]):
    def parse(self, raw: object) -> bool:
        if not isinstance(raw, bool):
            raise expected("true or false", raw)
        return raw


def _number(value: float) -> str:
    """A number for messages: 3600000 and 0.5, not 3.6e+06 or 3600000.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _check_range(
    value: float, minimum: float | None, maximum: float | None, *, above: bool = False
) -> None:
    """Raise Invalid unless minimum <= value <= maximum (minimum < value when ``above``)."""
    low_ok = minimum is None or (value > minimum if above else value >= minimum)
    high_ok = maximum is None or value <= maximum
    if low_ok and high_ok:
        return
    got = f"got {_number(value)}"
    if minimum is not None and above:
        raise Invalid(f"must be greater than {_number(minimum)}, {got}")
    if minimum is not None and maximum is not None:
        raise Invalid(f"must be between {_number(minimum)} and {_number(maximum)}, {got}")
    if minimum is not None:
        raise Invalid(f"must be at least {_number(minimum)}, {got}")
    raise Invalid(f"must be at most {_number(maximum or 0)}, {got}")


class Int(Value[int]):
    """An integer in a range; a boolean is not an integer."""

    def __init__(self, minimum: int, maximum: int | None = None, *, hex_digits: int = 0) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.hex_digits = hex_digits  # shown as 0x... by format_config (USB ids)

    def parse(self, raw: object) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise expected("an integer", raw)
        _check_range(raw, self.minimum, self.maximum)
        return raw

    def literal(self, value: int) -> str:
        return f"0x{value:0{self.hex_digits}x}" if self.hex_digits else str(value)


class Float(Value[float]):
    """A finite number (integer or float) in a range."""

    def __init__(self, minimum: float, maximum: float, *, above: bool = False) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.above = above  # minimum itself is excluded

    def parse(self, raw: object) -> float:
        if isinstance(raw, TomlFloat):
            value = float(raw.text)
            if not math.isfinite(value):
                raise Invalid(f"must be a finite number, got {raw.text}")
        elif isinstance(raw, int) and not isinstance(raw, bool):
            value = float(raw)
        else:
            raise expected("a number", raw)
        _check_range(value, self.minimum, self.maximum, above=self.above)
        return value


class Quantity(Value[Decimal]):
    """An exact quantity greater than 0, or in ``minimum``..``maximum`` when given.

    Given as an integer, a string or a float literal whose text matches the
    product's quantity syntax (no exponent, at most 6 decimals); it is never
    rounded.
    """

    def __init__(self, minimum: Decimal | None = None, maximum: Decimal | None = None) -> None:
        self.minimum = minimum  # None: greater than 0
        self.maximum = maximum

    def parse(self, raw: object) -> Decimal:
        if isinstance(raw, bool):
            raise expected("a quantity", raw)
        if isinstance(raw, int):
            text = str(raw)
        elif isinstance(raw, str | TomlFloat):
            text = raw if isinstance(raw, str) else raw.text
            if not QUANTITY_PATTERN.fullmatch(text):
                raise Invalid(
                    f"{text!r} is not an exact decimal "
                    "(digits with an optional '.' and 1 to 6 more digits)"
                )
        else:
            raise expected("a quantity", raw)
        value = Decimal(text)
        if self.minimum is None and value <= 0:
            raise Invalid(f"must be greater than 0, got {text}")
        low = self.minimum is None or value >= self.minimum
        if not low or (self.maximum is not None and value > self.maximum):
            raise Invalid(f"must be between {self.minimum} and {self.maximum}, got {text}")
        return value


class Text(Value[str]):
    """A non-empty line of printable text without surrounding blanks (ids, names, codes)."""

    def __init__(self, max_length: int = 64) -> None:
        self.max_length = max_length

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise expected("a string", raw)
        if not raw:
            raise Invalid("must not be empty")
        for position, char in enumerate(raw, 1):
            if not char.isprintable():
                raise Invalid(f"{show(raw)} has a control character at position {position}")
        if raw != raw.strip():
            raise Invalid(f"{show(raw)} has leading or trailing blanks")
        if len(raw) > self.max_length:
            raise Invalid(f"is longer than {self.max_length} characters")
        return raw


class Choice(Value[_S]):
    """One of a fixed set of strings: the values of a Literal, or the members of a StrEnum."""

    def __init__(self, choices: Iterable[_S]) -> None:
        self.choices: tuple[_S, ...] = tuple(choices)
        # Plain strings for messages: a StrEnum member's repr is not its value.
        self.names: tuple[str, ...] = tuple(str(choice) for choice in self.choices)

    def parse(self, raw: object) -> _S:
        listed = ", ".join(self.names)
        if not isinstance(raw, str):
            raise expected(f"one of {listed}", raw)
        if raw not in self.names:
            hint = did_you_mean(raw, self.names)
            raise Invalid(f"{show(raw)} is not one of {listed}{hint}")
        return self.choices[self.names.index(raw)]


class LogLevel(Choice[str]):
    def __init__(self) -> None:
        super().__init__(LOG_LEVELS)

    def parse(self, raw: object) -> str:
        if isinstance(raw, str) and raw.upper() in self.choices:
            return raw.upper()
        return super().parse(raw)


class ProtocolVersion(Value[str]):
    """``5`` (an integer or a string) or ``"3.1.1"``."""

    def parse(self, raw: object) -> str:
        if raw in ("5", "3.1.1") or (raw == 5 and not isinstance(raw, bool)):
            return str(raw)
        raise Invalid(f'must be 5 or "3.1.1", got {show(raw)}')

    def literal(self, value: str) -> str:
        return value if value == "5" else toml_string(value)


class FilePath(Value[Path]):
    """A file path; the table makes a relative one relative to the config file's directory."""

    def parse(self, raw: object) -> Path:
        if not isinstance(raw, str):
            raise expected("a path (a string)", raw)
        if not raw:
            raise Invalid("must not be empty")
        if "\0" in raw:
            raise Invalid("must not contain NUL")
        return Path(raw)


class NamePattern(Text):
    """Text matching a regular expression (environment variable and credential names)."""

    def __init__(self, pattern: str, what: str) -> None:
        super().__init__(max_length=255)
        self.pattern = re.compile(pattern)
        self.what = what

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        if not self.pattern.fullmatch(text) or text in (".", ".."):
            raise Invalid(f"{show(text)} is not {self.what}")
        return text


class Latin1(Value[bytes]):
    """A string whose code points U+0000-U+00FF each become one byte."""

    def __init__(self, *, allow_empty: bool) -> None:
        self.allow_empty = allow_empty

    def parse(self, raw: object) -> bytes:
        if not isinstance(raw, str):
            raise expected("a string", raw)
        if not raw and not self.allow_empty:
            raise Invalid("must not be empty (leave the key out to send nothing)")
        for position, char in enumerate(raw, 1):
            if ord(char) > 0xFF:
                raise Invalid(
                    f"U+{ord(char):04X} at position {position} is not a single byte "
                    "(only U+0000 to U+00FF can be used)"
                )
        return raw.encode("latin-1")


class StopBits(Value[float]):
    def parse(self, raw: object) -> float:
        if isinstance(raw, TomlFloat) and raw.text == "1.5":
            return 1.5
        if isinstance(raw, int) and not isinstance(raw, bool) and raw in (1, 2):
            return raw
        raise Invalid(f"must be 1, 1.5 or 2, got {show(raw)}")


class TextList(Value[tuple[str, ...]]):
    """A non-empty array of distinct texts."""

    may_be_empty = False

    def __init__(self, item: Value[str]) -> None:
        self.item = item

    def parse(self, raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise expected("an array of strings", raw)
        if not raw and not self.may_be_empty:
            raise Invalid("must not be empty (leave the key out to accept any reason)")
        items: list[str] = []
        for number, element in enumerate(raw, 1):
            try:
                value = self.item.parse(element)
            except Invalid as error:
                raise Invalid(f"item {number}: {error}") from None
            if value in items:
                raise Invalid(f"item {number}: {value!r} is listed twice")
            items.append(value)
        return tuple(items)


class ChoiceList(TextList):
    """An array of distinct strings, each one of a fixed set; empty allows none."""

    may_be_empty = True

    def __init__(self, choices: Iterable[str]) -> None:
        super().__init__(Choice(tuple(choices)))
