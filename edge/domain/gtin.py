"""GTIN check digits and normalization to 14 digits (GS1 General Specifications)."""

from __future__ import annotations

GTIN_LENGTHS = frozenset({8, 12, 13, 14})


def check_digit_ok(digits: str) -> bool:
    """Whether the last digit is the GS1 mod-10 check digit of the others."""
    if not digits.isascii() or not digits.isdigit() or len(digits) < 2:
        return False
    body = digits[:-1]
    # Weights alternate 3, 1, ... starting from the digit next to the check digit.
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - weighted % 10) % 10 == int(digits[-1])


def normalize_gtin(text: str) -> str | None:
    """A GTIN-8/12/13/14 with a valid check digit as 14 digits, else None."""
    if len(text) not in GTIN_LENGTHS or not check_digit_ok(text):
        return None
    return text.zfill(14)
