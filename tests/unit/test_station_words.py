"""Every reason a scan can be journaled with has a plain sentence on the station display."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.observe.words import DUPLICATE_WORDS, REJECTED_WORDS, scan_words
from hardware.barcode import ERROR_CODES

DOMAIN = Path(__file__).resolve().parents[2] / "edge" / "domain"
# Rejection("code", ...) with the code on the same line or the next.
_RAISED = re.compile(r"Rejection\(\s*\"([a-z0-9-]+)\"")


def _domain_reasons() -> set[str]:
    return {
        reason
        for path in DOMAIN.glob("*.py")
        for reason in _RAISED.findall(path.read_text(encoding="utf-8"))
    }


def test_every_reason_the_domain_and_the_decoder_journal_has_words() -> None:
    reasons = _domain_reasons()
    assert {"unknown-part", "serial-already-shipped", "void-window-expired"} <= reasons
    journaled = reasons | set(ERROR_CODES) | {"storage-unavailable"}
    assert journaled - set(REJECTED_WORDS) == set()


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ({"status": "rejected", "reason": "unknown-part", "code": "NOT-A-PART"},
         "unknown part NOT-A-PART"),
        ({"status": "rejected", "reason": "serial-already-shipped",
          "code": "(01)09506000134352(21)SN0001", "gtin": "09506000134352", "serial": "SN0001"},
         "serial SN0001 already shipped"),
        ({"status": "rejected", "reason": "unknown-reason", "code": "RSN:LUNCH"},
         "reason LUNCH is not allowed here"),
        ({"status": "rejected", "reason": "qty-out-of-range", "code": "QTY:0"},
         "quantity 0 is too large or zero"),
        ({"status": "rejected", "reason": "unknown-station", "code": "X", "station": "OLD-1"},
         "station OLD-1 is not configured"),
        ({"status": "rejected", "reason": "some-future-reason", "code": "X-1"},
         "some future reason: X-1"),
        ({"status": "accepted", "reason": None, "code": "QTY:5"}, "quantity 5 for the next scan"),
        ({"status": "accepted", "reason": None, "code": "RSN:TEST"},
         "reason TEST for the next scan"),
        ({"status": "accepted", "reason": None, "code": "VOID"}, "last transaction voided"),
        ({"status": "accepted", "reason": None, "code": "FG-PUMP-100"}, "FG-PUMP-100 OK"),
        ({"status": "duplicate", "reason": None, "code": "FG-PUMP-100"}, DUPLICATE_WORDS),
    ],
)  # fmt: skip
def test_a_journal_row_in_plain_words(row: dict[str, object], words: str) -> None:
    assert scan_words(row) == words
