"""What a part's counts say: each count's variance, and a verdict on the part over its counts.

A count's variance (counted - book) is judged against the consumption since
the previous count (usage.py): 20 short on 200 used is -10 %, beyond a 5 %
tolerance. One count over tolerance says stock went missing (or appeared);
the verdict says where to look:

* ``bom-suspect``: the latest counts, at least two, are all over tolerance with
  the same sign, and in each the part was consumed through BOMs. A variance
  that repeats with the consumption is what a wrong ``qty_per`` produces, so
  the verdict carries the quantity per parent the counts imply beside the
  BOM's.
* ``shrinkage-or-unrecorded-usage``: the latest count is over tolerance and
  short (loss, theft, or use nobody transacted: scrap not scanned, issues).
* ``surplus``: the latest count is over tolerance and over (receipts not
  booked, scrap scanned twice, a BOM asking for too much once).
* ``within-tolerance``: the latest count is within tolerance (or there is none).

Only the run of counts ending with the latest is judged, not every count the
part ever had: once a BOM is corrected the counts after it stop repeating the
variance, and counts from before a BOM went wrong do not hide that it is
wrong now. ``--since`` narrows the counts further.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from edge.domain.model import BomLine
from edge.domain.quantity import ZERO
from edge.domain.usage import CountRecord, implied_per_parent, over_tolerance, variance_pct

MIN_REPEATS: Final = 2
"""A BOM suspect needs this many consecutive counts with the same signed variance."""


class Verdict(StrEnum):
    BOM_SUSPECT = "bom-suspect"
    SHRINKAGE = "shrinkage-or-unrecorded-usage"
    SURPLUS = "surplus"
    WITHIN = "within-tolerance"


@dataclass(frozen=True, slots=True)
class CountVariance:
    """One count judged: its record, variance as % of consumption, and whether beyond tolerance."""

    record: CountRecord
    pct: Decimal | None  # None when nothing was consumed since the previous count
    over: bool

    @property
    def sign(self) -> int:
        """-1 short, 1 over, 0 when the count met the book."""
        return (self.record.variance > ZERO) - (self.record.variance < ZERO)


@dataclass(frozen=True, slots=True)
class ImpliedUse:
    """A BOM line using the part: its ``qty_per``, and the quantity per parent the counts imply."""

    parent: str
    qty_per: Decimal
    implied: Decimal | None  # None when nothing was consumed through BOMs


@dataclass(frozen=True, slots=True)
class PartVariance:
    part: str
    counts: tuple[CountVariance, ...]  # in the order counted
    verdict: Verdict
    implied: tuple[ImpliedUse, ...] = ()  # for a BOM suspect: each BOM line using the part
    judged: int = 0  # how many of the latest counts the verdict rests on

    @property
    def latest(self) -> CountVariance | None:
        return self.counts[-1] if self.counts else None


def judge(record: CountRecord) -> CountVariance:
    consumption = record.used.total
    return CountVariance(
        record,
        variance_pct(record.variance, consumption),
        over_tolerance(record.variance, consumption, record.tolerance_pct),
    )


def analyse(part: str, records: Sequence[CountRecord], lines: Sequence[BomLine]) -> PartVariance:
    """The part's counts (in order) judged, and the verdict on them.

    ``lines`` are the BOM lines in which the part is a component.
    """
    counts = tuple(judge(record) for record in records)
    run = _repeated_run(counts)
    if not run or not run[-1].over:
        return PartVariance(part, counts, Verdict.WITHIN, judged=len(run))
    through_boms = all(count.record.used.bom > ZERO for count in run)
    if len(run) >= MIN_REPEATS and through_boms:
        run_records = [count.record for count in run]
        implied = tuple(
            ImpliedUse(line.parent, line.qty_per, implied_per_parent(line.qty_per, run_records))
            for line in sorted(lines, key=lambda line: line.parent)
        )
        return PartVariance(part, counts, Verdict.BOM_SUSPECT, implied, judged=len(run))
    verdict = Verdict.SHRINKAGE if run[-1].sign < 0 else Verdict.SURPLUS
    return PartVariance(part, counts, verdict, judged=len(run))


def _repeated_run(counts: Sequence[CountVariance]) -> tuple[CountVariance, ...]:
    """The latest count and those right before it over tolerance with the same sign.

    Just the latest when it is within tolerance; nothing when there are no counts.
    """
    if not counts:
        return ()
    latest = counts[-1]
    if not latest.over:
        return (latest,)
    start = len(counts) - 1
    while start > 0 and counts[start - 1].over and counts[start - 1].sign == latest.sign:
        start -= 1
    return tuple(counts[start:])
