"""Cycle counts: the correction of on-hand, and the variance each count reveals.

A count is compared with the book (as it stood when the count was taken:
what was posted since stays posted) and the ledger records the difference.
Each count also keeps what the part was used for since its previous count,
by kind, so the variance can be read against consumption: 20 short on 200
used is -10 %, and the same -10 % count after count on a part consumed
through a BOM points at the BOM (:mod:`edge.domain.usage`). A count whose
variance is beyond the part's tolerance emits a ``variance`` event.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from edge.domain import events
from edge.domain.ports import Moment
from edge.domain.posting import Origin, Posted, Posting, Rejection
from edge.domain.quantity import ZERO, sub
from edge.domain.timestamps import rfc3339
from edge.domain.usage import NO_USAGE, CountRecord, LastCount, over_tolerance, variance_pct


class Counting(Posting):
    """Counts of a part's stock, and their variance against its consumption."""

    def count(
        self, part: str, counted: Decimal, at: Moment, *, counted_at: datetime | None = None
    ) -> Posted:
        """Correct on-hand by a count; the ledger records the variance.

        A count taken earlier (``counted_at``, e.g. a count sheet entered
        later) is compared with the book as it stood then: what was posted
        since stays posted on top of the counted quantity, and is not part of
        this count's consumption either.
        """
        item = self.stock_item(part)
        if counted < ZERO:
            raise Rejection("bad-quantity", "a counted quantity cannot be negative")
        balance = self.store.balance(part)
        book, used = balance.on_hand, balance.used
        if counted_at is not None:
            if counted_at > at.wall:
                raise Rejection("bad-time", "counted_at is later than now")
            book = sub(book, self.store.moved_since(part, counted_at))
            used = used.since(self.store.usage_since(part, counted_at))
        when = rfc3339(counted_at if counted_at is not None else at.wall)
        previous = balance.counted
        record = CountRecord(
            part,
            counted_at=when,
            previous_at=previous.at if previous is not None else None,
            book=book,
            counted=counted,
            variance=sub(counted, book),
            used=used.since(previous.used if previous is not None else NO_USAGE),
            tolerance_pct=(
                item.count_tolerance_pct
                if item.count_tolerance_pct is not None
                else self.policy.count_tolerance_pct
            ),
        )
        txn = self._begin("count", at, Origin(), part=part, quantity=counted)
        self._post(txn, part, record.variance, None)  # a zero too: the count is in the ledger
        txn.counted[part] = LastCount(when, counted, used)
        self.store.add_count(txn.txn_id, record)
        event = events.CountEvent(
            part, counted=counted, previous_on_hand=book, variance=record.variance,
            uom=item.uom, counted_at=None if counted_at is None else when,
        )  # fmt: skip
        event_id = self._finish(txn, event, _variance_events(record, item.uom))
        return Posted(txn.txn_id, event_id, count=record)


def _variance_events(record: CountRecord, uom: str | None) -> list[events.Event]:
    """A ``variance`` event when the count is beyond tolerance; none otherwise."""
    consumed = record.used.total
    if not over_tolerance(record.variance, consumed, record.tolerance_pct):
        return []
    used = record.used
    return [
        events.VarianceEvent(
            record.part,
            counted=record.counted,
            book=record.book,
            variance=record.variance,
            uom=uom,
            consumed=consumed,
            consumed_backflush=used.backflush,
            consumed_scrap=used.scrap,
            consumed_issue=used.issue,
            consumed_through_bom=used.bom,
            variance_pct=variance_pct(record.variance, consumed),
            tolerance_pct=record.tolerance_pct,
            counted_at=record.counted_at,
            previous_counted_at=record.previous_at,
        )
    ]
