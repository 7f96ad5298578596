"""The product's one date format: RFC 3339 in UTC with milliseconds and a ``Z``.

Every time the product writes (event ``occurred_at``, journal and ledger
rows, the status message) is spelled by :func:`rfc3339`, so text comparison
of two stored times is time comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


# A scan spells its time four times (journal, transaction, event, stock states).
@lru_cache(maxsize=64)
def rfc3339(moment: datetime) -> str:
    """``2026-12-02T08:15:00.123Z`` for a timezone-aware UTC time."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """The time :func:`rfc3339` wrote."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class TimeError(ValueError):
    """A text that is not an RFC 3339 time with its offset."""


def given_time(text: str) -> datetime:
    """A time someone gave (``2026-12-02T06:00:00Z``, ``...+01:00``) as UTC.

    The offset is required: a node's clock zone is nobody's guess.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeError(
            f"{text[:40]!r} is not an RFC 3339 time, e.g. 2026-12-02T06:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise TimeError(
            f"the time {text[:40]!r} must say its offset from UTC, e.g. 2026-12-02T06:00:00Z"
        )
    return moment.astimezone(UTC)
