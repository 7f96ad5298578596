"""Each journaled scan reason in plain words, as an operator 2 m away reads it.

One table, by the reason code the domain journals (``scans.reason``); a
sentence names the scanned code, its value after ``QTY:``/``RSN:``, its GTIN,
serial or station where that is what went wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

REJECTED_WORDS: Final[Mapping[str, str]] = {
    # the code itself
    "empty": "empty read: scan again",
    "invalid-utf8": "unreadable code: scan again",
    "too-long": "code too long for this scanner",
    "gs1-malformed": "damaged GS1 label {code}",
    "gs1-check-digit": "GS1 label with a wrong check digit",
    "gs1-no-gtin": "GS1 label without a GTIN",
    "gs1-bad-count": "GS1 label with a bad count",
    "unknown-station": "station {station} is not configured",
    # what the code names
    "unknown-part": "unknown part {code}",
    "unknown-gtin": "no item has GTIN {gtin}",
    "phantom-part": "{code} is a phantom assembly: it has no stock",
    "not-buildable": "{code} cannot be built into stock",
    "serial-already-shipped": "serial {serial} already shipped",
    "serialized-quantity": "a serial number is one unit: scan it without QTY:",
    # QTY: and RSN:
    "bad-qty": "not a quantity: {value}",
    "qty-out-of-range": "quantity {value} is too large or zero",
    "bad-quantity": "the quantity must be above zero",
    "bad-reason": "not a reason code: {value}",
    "unknown-reason": "reason {value} is not allowed here",
    "reason-required": "scan RSN: with a reason first, then the part",
    "reason-not-scrap-station": "RSN: is not taken at this station",
    # VOID
    "nothing-to-void": "nothing to void",
    "already-voided": "the last transaction is already voided",
    "void-window-expired": "too late to VOID the last transaction",
    "card-scan-not-voided": "VOID does not undo a kanban card",
    # kanban cards
    "not-a-card": "{code} is not a kanban card",
    "unknown-card": "unknown kanban card {code}",
    "card-already-empty": "card {code} is already empty",
    "card-already-full": "card {code} is already full",
    "not-the-cards": "card {code} holds another part or quantity",
    # not from a scan, but journaled reasons all the same
    "has-history": "{code} already has stock history",
    "bad-time": "the time given is in the future",
    "unknown-reorder": "unknown reorder",
    "reorder-closed": "the reorder is already closed",
    "bad-reference": "not a reorder reference",
    # the daemon
    "storage-unavailable": "NOT STORED: the database could not be written",
}

DUPLICATE_WORDS: Final = "double read ignored"


def scan_words(scan: Mapping[str, Any]) -> str:
    """The plain sentence for one journal row (``edge scans``'s keys)."""
    code = str(scan.get("code") or "")
    fields = {
        "code": code,
        "value": code.partition(":")[2] if code[:4] in ("QTY:", "RSN:") else code,
        "gtin": scan.get("gtin") or "?",
        "serial": scan.get("serial") or "?",
        "station": scan.get("station") or "?",
    }
    status = scan.get("status")
    if status == "duplicate":
        return DUPLICATE_WORDS
    if status == "accepted":
        return _accepted(code, fields["value"])
    reason = str(scan.get("reason") or "")
    template = REJECTED_WORDS.get(reason)
    if template is None:  # a reason newer than this table: its code still says something
        return f"{reason.replace('-', ' ')}: {code}" if reason else f"refused: {code}"
    return template.format(**fields)


def _accepted(code: str, value: str) -> str:
    if code.startswith("QTY:"):
        return f"quantity {value} for the next scan"
    if code.startswith("RSN:"):
        return f"reason {value} for the next scan"
    if code == "VOID":
        return "last transaction voided"
    return f"{code} OK"
