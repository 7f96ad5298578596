"""The product's one date format: RFC 3339 in UTC with milliseconds and a ``Z``.

Every time the product writes (event ``occurred_at``, journal and ledger
rows, the status message) is spelled by :func:`rfc3339`, so text comparison
of two stored times is time comparison.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache


# A scan spells its time four times (journal, transaction, event, stock states).
@lru_cache(maxsize=64)
def rfc3339(moment: datetime) -> str:
    """``2026-12-02T08:15:00.123Z`` for a timezone-aware UTC time."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """The time :func:`rfc3339` wrote."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
