"""The outbox's upkeep, on its own timers: purge of sent rows, the backlog count, the alarm.

Decides nothing about connections and logs nothing: :class:`OutboxUpkeep`
says what it found and the relay tells it (see :mod:`edge.publish`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from edge.store import outbox
from edge.store.outbox import Backlog

COUNT_EVERY_S = 2.0  # backlog count and outbox_full check
PURGE_EVERY_S = 600.0


@dataclass(frozen=True, slots=True)
class Count:
    """One count of the backlog, and how the alarms moved since the last."""

    backlog: Backlog
    full_changed: bool  # outbox_full turned on or off with this count
    alarm_changed: bool  # that, or the number of set-aside rows changed


class OutboxUpkeep:
    """Purges and counts when due; keeps the last count and the ``outbox_full`` alarm.

    ``alarm_rows`` is the alarm threshold (nothing is ever dropped), and
    ``retention_days`` how long sent rows are kept.
    """

    def __init__(self, engine: Engine, *, retention_days: float, alarm_rows: int) -> None:
        self._engine = engine
        self._retention = timedelta(days=retention_days)
        self._alarm_rows = alarm_rows
        self.backlog: Backlog | None = None  # the last count; None before the first
        self.outbox_full = False
        self._next_count = 0.0
        self._next_purge = 0.0

    def count_soon(self) -> None:
        """Count at the next :meth:`count_if_due`, whatever the timer says."""
        self._next_count = 0.0

    def purge_if_due(self, now: float) -> int:
        """Delete sent rows past their retention, every PURGE_EVERY_S; how many went."""
        if now < self._next_purge:
            return 0
        self._next_purge = now + PURGE_EVERY_S
        return outbox.purge_published(self._engine, datetime.now(UTC) - self._retention)

    def count_if_due(self, now: float) -> Count | None:
        """Count the backlog every COUNT_EVERY_S; None when no count was due."""
        if now < self._next_count:
            return None
        self._next_count = now + COUNT_EVERY_S
        backlog = outbox.backlog(self._engine)
        full = backlog.events > self._alarm_rows
        full_changed = full != self.outbox_full
        set_aside_changed = self.backlog is not None and backlog.set_aside != self.backlog.set_aside
        self.backlog = backlog
        self.outbox_full = full
        return Count(backlog, full_changed, full_changed or set_aside_changed)
