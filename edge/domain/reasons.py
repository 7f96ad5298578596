"""Reason codes: why stock was scrapped or issued, checked against a station's allow-list.

A scrap without a reason takes its station's ``default_reason``; an issue has
none: stock used for engineering, testing or internal work leaves no other
trace of what it went to, so its reason is required.
"""

from __future__ import annotations

from edge.domain.model import Station, StationMode
from edge.domain.posting import Rejection

# What the reason is for, by the mode of the station that takes RSN:.
REASON_MODES = {StationMode.SCRAP: "scrap", StationMode.ISSUE: "issue"}


def allowed_reasons(station: Station) -> tuple[str, ...] | None:
    """The station's allow-list for RSN: (None accepts any printable reason)."""
    if station.mode is StationMode.ISSUE:
        return station.issue_reasons
    return station.scrap_reasons


def check_reason(text: str, allowed: tuple[str, ...] | None, *, purpose: str) -> str:
    """The trimmed reason, or a :class:`Rejection` when it is empty or not allowed.

    ``purpose`` names what the reason is for in the message ("scrap", "issue").
    """
    reason = text.strip()
    if not reason or not reason.isprintable():
        raise Rejection("bad-reason", f"a {purpose} reason must be a printable code, e.g. TEST")
    if allowed is not None and reason not in allowed:
        raise Rejection(
            "unknown-reason", f"{purpose} reason {reason!r} is not one of {', '.join(allowed)}"
        )
    return reason


def reason_required(station: str) -> Rejection:
    """The refusal of a part scan at an issue station before any RSN: was scanned."""
    return Rejection(
        "reason-required",
        f"{station} is an issue station: scan RSN:<reason> first, then the part",
    )
