"""Exact decimal quantities.

Quantities travel from CSV to database to JSON as exact decimals. All
arithmetic goes through :data:`CONTEXT`, whose precision covers deep BOMs and
which traps every rounding, so a result that cannot be represented exactly
raises instead of being rounded silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Final

CONTEXT = Context(
    prec=1000,
    Emax=999_999,
    Emin=-999_999,
    traps=[Inexact, InvalidOperation, Overflow, DivisionByZero],
)

ZERO = Decimal(0)
ONE = Decimal(1)

# The product's one spelling of the quantity syntax (a station's max_qty in the config
# file is checked with it too). ASCII digits only: ``\d`` would also accept other
# scripts' digits.
QUANTITY_PATTERN = re.compile(r"-?[0-9]+(\.[0-9]{1,6})?")
_MAX_INPUT_LENGTH = 40


class QuantityError(ValueError):
    """A text that is not a valid quantity."""


def parse_quantity(text: str) -> Decimal:
    """Parse user input (CSV cell, command line, ``QTY:``) into an exact decimal.

    Accepts ``-?[0-9]+(\\.[0-9]{1,6})?`` and nothing else: no exponent, no
    NaN, no underscores, no surrounding spaces, never rounded.
    """
    if len(text) > _MAX_INPUT_LENGTH or not QUANTITY_PATTERN.fullmatch(text):
        shown = text if len(text) <= _MAX_INPUT_LENGTH else text[:_MAX_INPUT_LENGTH] + "..."
        raise QuantityError(
            f"{shown!r} is not a quantity (digits with up to 6 decimals, e.g. 12 or 0.25)"
        )
    return Decimal(text)


def from_storage(text: str) -> Decimal:
    """Read a quantity written by :func:`to_storage` (any exact decimal literal)."""
    if text == "0":  # most use marks: the one ZERO, which the writers know by identity
        return ZERO
    value = Decimal(text)
    if not value.is_finite():
        raise QuantityError(f"stored quantity {text!r} is not finite")
    return value


def format_quantity(value: Decimal) -> str:
    """Plain decimal notation without trailing zeros; the JSON number literal."""
    text = str(value)
    # str() is exact, and already canonical unless it has an exponent,
    # trailing fractional zeros (every fractional zero has them) or is "-0".
    if "E" not in text:
        if "." in text:
            if text[-1] != "0":
                return text
        elif text != "-0":
            return text
    if value.is_zero():
        return "0"
    return format(value.normalize(CONTEXT), "f")


# The canonical text of a quantity as stored: plain notation, no exponent, "-0" as "0".
# The JSON literal itself, bound once: the scan path stores some fifty quantities a scan.
to_storage: Final[Callable[[Decimal], str]] = format_quantity

# The exact operations: the context's own methods, bound once. A function around each
# was a Python call more for every ledger row, balance and use mark (hundreds a scan).
mul: Final[Callable[[Decimal, Decimal], Decimal]] = CONTEXT.multiply
add: Final[Callable[[Decimal, Decimal], Decimal]] = CONTEXT.add
sub: Final[Callable[[Decimal, Decimal], Decimal]] = CONTEXT.subtract


def div(a: Decimal, b: Decimal) -> Decimal:
    """Exact division; raises if the quotient is not exactly representable."""
    return CONTEXT.divide(a, b)


def total(values: Iterable[Decimal]) -> Decimal:
    result = ZERO
    for value in values:
        result = CONTEXT.add(result, value)
    return result


def ceil_multiple(value: Decimal, step: Decimal) -> Decimal:
    """The smallest multiple of ``step`` that is >= ``value`` (``step`` > 0)."""
    units = CONTEXT.divide_int(value, step)
    product = mul(units, step)
    if product < value:
        product = add(product, step)
    return product
