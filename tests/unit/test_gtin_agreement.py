"""The two GTIN check-digit implementations agree.

The layering forces two: ``hardware.barcode`` checks GTINs read from labels
(and may use biip), ``edge.domain.gtin`` checks GTIN aliases and scanned
digits in the pure core (standard library only). This test ties them: for
every length a GTIN can have, and for codes that are not GTINs, both give the
same verdict and the same 14-digit form.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.domain import gtin as domain_gtin
from hardware import barcode

KNOWN = [
    "09506000134352",  # GTIN-14, valid
    "09506000134353",  # GTIN-14, wrong check digit
    "9506000134352",  # GTIN-13
    "950600013435",  # 12 digits, wrong check digit
    "96385074",  # GTIN-8
    "96385075",
    "036000291452",  # GTIN-12 (UPC-A)
    "",
    "0",
    "123",
    "".join(chr(0xFF10 + int(d)) for d in "09506000134352"),  # full-width: not ASCII
    " 9506000134352",
    "95060001343520",
    "950600013435200",  # 15 digits
]


def both(digits: str) -> tuple[str | None, str | None]:
    return barcode.normalize_gtin(digits), domain_gtin.normalize_gtin(digits)


@pytest.mark.parametrize("digits", KNOWN)
def test_known_codes_get_the_same_verdict(digits: str) -> None:
    from_labels, from_core = both(digits)
    assert from_labels == from_core
    assert barcode.gtin_check_digit_ok(digits) is (from_core is not None)


@given(
    st.sampled_from([8, 12, 13, 14]).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    )
)
def test_every_length_agrees(digits: str) -> None:
    from_labels, from_core = both(digits)
    assert from_labels == from_core
    if from_core is not None:
        assert from_core == digits.zfill(14)


@given(st.text(max_size=16))
def test_any_text_agrees(text: str) -> None:
    assert both(text)[0] == both(text)[1]
