"""Output of the commands for whoever reads it: one JSON document, or words for people."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from edge.domain import exactjson
from edge.domain.quantity import format_quantity


def print_json(document: Any) -> None:
    sys.stdout.write(exactjson.dumps(document) + "\n")


def summarize_event(payload: dict[str, Any]) -> str:
    """A short human description of an event."""
    kind = payload["type"]
    part = payload.get("part", "")
    if kind in ("backflush", "scrap", "build"):
        lines = payload.get("lines", [])
        text = f"{format_quantity(Decimal(payload['quantity']))} x {part}, {len(lines)} lines"
        return text + (f", reason {payload['reason']}" if kind == "scrap" else "")
    if kind == "low-stock":
        negative = " NEGATIVE" if payload.get("negative") else ""
        return f"{part} on hand {payload['on_hand']}{negative}"
    if kind == "reorder":
        return f"{part} order {payload['quantity']} (reorder {payload['reorder_id']})"
    if kind == "scan-rejected":
        return f"{payload['reason']}: {payload['code'][:40]}"
    if kind == "count":
        return f"{part} counted {payload['counted']}, variance {payload['variance']}"
    if kind == "receipt":
        return f"{part} received {payload['quantity']}"
    if kind == "reorder-closed":
        return f"reorder {payload['reorder_id']} {payload['reason']}"
    if kind == "void":
        return f"voided {payload.get('voided_type')} of {payload.get('part')}"
    return ""
