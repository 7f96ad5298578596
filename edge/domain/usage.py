"""What a part's stock was used for: consumption marks, daily use, and what they explain.

Consumption is what left stock through backflush, scrap and issue (a build's
components are backflushed: they count as backflush). Counts, receipts,
openings and kanban adjustments are not consumption. Each part keeps its
cumulative consumption by kind (:class:`Usage`) on its balance, so the
consumption between two moments (two counts, two empty kanban cards) is the
difference of two marks, and no report or retained message sums the ledger.

A void takes back what the transaction it reverses consumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, NamedTuple

from edge.domain.quantity import ZERO, add, from_storage, sub, to_storage, total

WINDOW_DAYS: Final = 14
"""Average daily consumption is over today and the 13 UTC days before it, divided by 14."""

CONSUMING_KINDS: Final = ("backflush", "scrap", "build", "issue")
"""The transaction kinds whose outgoing ledger rows are consumption."""

_PLACES = Decimal("0.000001")  # the quantity precision (SPEC §3)


class Usage(NamedTuple):
    """Cumulative consumption by kind; ``bom`` is the part of it used as a BOM component.

    A named tuple, not a frozen dataclass: every component of every scan makes
    one, and a frozen dataclass sets each field through ``object.__setattr__``
    (about three times the cost; see :class:`edge.domain.ports.Balance`).
    """

    backflush: Decimal = ZERO
    scrap: Decimal = ZERO
    issue: Decimal = ZERO
    bom: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return total((self.backflush, self.scrap, self.issue))

    def plus(self, kind: str, quantity: Decimal, *, through_bom: bool) -> Usage:
        """This usage with ``quantity`` more consumed by a transaction of ``kind``."""
        bom = add(self.bom, quantity) if through_bom else self.bom
        # Positional, backflush first: this runs for every component of every scan.
        if kind == "scrap":
            return Usage(self.backflush, add(self.scrap, quantity), self.issue, bom)
        if kind == "issue":
            return Usage(self.backflush, self.scrap, add(self.issue, quantity), bom)
        return Usage(add(self.backflush, quantity), self.scrap, self.issue, bom)  # and builds

    def since(self, earlier: Usage) -> Usage:
        """What was consumed between ``earlier`` and this mark."""
        return Usage(
            sub(self.backflush, earlier.backflush),
            sub(self.scrap, earlier.scrap),
            sub(self.issue, earlier.issue),
            sub(self.bom, earlier.bom),
        )


NO_USAGE: Final = Usage()


def consumed(quantity: Decimal, *, reversal: bool) -> Decimal:
    """How much one ledger row consumed; negative when a void takes consumption back.

    Only what goes out is consumption: a build's received assembly is not. A
    void's rows coming back into stock (``reversal``) take back what the
    reversed transaction consumed; its row taking a built assembly out again
    is not consumption either.
    """
    if reversal:
        return -quantity if quantity > ZERO else ZERO
    return -quantity if quantity < ZERO else ZERO


LedgerUse = tuple[Decimal, str, "str | None", "str | None", "str | None"]
"""A ledger row of the part: quantity, its transaction's kind and part, and for a void
the kind and part of the transaction it reversed."""


def usage_of_rows(part: str, rows: Iterable[LedgerUse]) -> Usage:
    """What ``part`` was used for in these ledger rows of it, by kind."""
    usage = NO_USAGE
    for quantity, kind, txn_part, voided_kind, voided_part in rows:
        reversal = kind == "void"
        used_as = voided_kind if reversal else kind
        if used_as not in CONSUMING_KINDS:
            continue
        amount = consumed(quantity, reversal=reversal)
        if amount != ZERO:
            parent = voided_part if reversal else txn_part
            usage = usage.plus(used_as, amount, through_bom=parent != part)
    return usage


# --- daily use ---------------------------------------------------------------------

DailyUse = tuple[tuple[str, Decimal], ...]
"""(UTC day as YYYY-MM-DD, consumption that day) for the days with any, oldest first."""


def window_start(today: date) -> str:
    return (today - timedelta(days=WINDOW_DAYS - 1)).isoformat()


def add_daily(days: DailyUse, day: str, quantity: Decimal) -> DailyUse:
    """The daily use with ``quantity`` consumed on ``day`` (today, YYYY-MM-DD); days out of
    the window dropped."""
    if days and days[-1][0] == day:  # the common case: a part used again today
        updated = add(days[-1][1], quantity)
        return (*days[:-1], (day, updated)) if updated != ZERO else days[:-1]
    # A new day (the last entry is not today's): the days out of the window go.
    start = window_start(date.fromisoformat(day))
    kept = [(d, q) for d, q in days if start <= d < day]
    if quantity != ZERO:
        kept.append((day, quantity))
    return tuple(kept)


def average_daily(days: DailyUse, today: date) -> Decimal:
    """Consumption over today and the 13 days before it, divided by 14 (6 places)."""
    start = window_start(today)
    used = total(q for d, q in days if start <= d <= today.isoformat())
    return _round(used / WINDOW_DAYS)


def days_of_cover(on_hand: Decimal, average: Decimal) -> Decimal | None:
    """On hand / average daily use (1 place); None when nothing was used (no rate to run out at)."""
    if average <= ZERO:
        return None
    if on_hand <= ZERO:
        return ZERO
    return (on_hand / average).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def format_daily(days: DailyUse) -> str:
    """The daily use as its column holds it: ``day=qty;day=qty``."""
    return ";".join([_day_text(day, quantity) for day, quantity in days])


def _day_text(day: str, quantity: Decimal) -> str:
    return f"{day}={to_storage(quantity)}"


def format_daily_after(days: DailyUse, before: DailyUse, text: str) -> str:
    """``format_daily(days)``, from ``text`` (``before``'s) when only the last day changed.

    A part used today again changes today's entry alone; its earlier days
    (up to 13) are the very objects ``before`` held, so their text is the
    text written then, and comparing them is by identity.
    """
    if days is before:
        return text
    count = len(days)
    if count == 1:  # the first day of use, or the only one in the window
        return _day_text(*days[0])
    if (count > 1 and len(before) == count and days[-1][0] == before[-1][0]
            and days[: count - 1] == before[: count - 1]):  # fmt: skip
        return text[: text.rindex(";") + 1] + _day_text(*days[-1])
    return format_daily(days)


def parse_daily(text: str) -> DailyUse:
    if not text:
        return ()
    out: list[tuple[str, Decimal]] = []
    for entry in text.split(";"):
        day, _, quantity = entry.partition("=")
        out.append((day, from_storage(quantity)))
    return tuple(out)


# --- counts and variance --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastCount:
    """A part's most recent count: when it was counted, what, and the usage mark then."""

    at: str  # RFC 3339 UTC: when counted (a count entered later carries its own time)
    counted: Decimal
    used: Usage


@dataclass(frozen=True, slots=True)
class CountRecord:
    """One count as kept for variance: the book it met and the use since the previous one."""

    part: str
    counted_at: str
    previous_at: str | None  # None for the part's first count: use since its first record
    book: Decimal
    counted: Decimal
    variance: Decimal  # counted - book
    used: Usage  # consumption between the previous count and this one
    tolerance_pct: Decimal


def variance_pct(variance: Decimal, consumption: Decimal) -> Decimal | None:
    """Variance as % of the consumption since the previous count (2 places); None with none."""
    if consumption <= ZERO:
        return None
    return (variance * 100 / consumption).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def over_tolerance(variance: Decimal, consumption: Decimal, tolerance_pct: Decimal) -> bool:
    """Whether a variance is beyond tolerance: any variance at all when nothing was consumed."""
    if variance == ZERO:
        return False
    pct = variance_pct(variance, consumption)
    return pct is None or abs(pct) > tolerance_pct


def _round(value: Decimal) -> Decimal:
    return value.quantize(_PLACES, rounding=ROUND_HALF_EVEN).normalize() + ZERO


def implied_per_parent(qty_per: Decimal, records: Sequence[CountRecord]) -> Decimal | None:
    """The quantity per parent the counts imply for a BOM line of ``qty_per`` (6 places).

    What was consumed through BOMs was ``qty_per`` per parent by the book;
    what the counts show was consumed is that less the variance (a variance
    of -20 on 200 backflushed means 220 were used). The whole variance is
    put on BOM consumption: that is the hypothesis a BOM suspect stands for.
    """
    recorded = total(record.used.bom for record in records)
    if recorded <= ZERO:
        return None
    actual = sub(recorded, total(record.variance for record in records))
    return _round(qty_per * actual / recorded)


# --- kanban ---------------------------------------------------------------------------


def reconciliation(used: Decimal, container_qty: Decimal) -> Decimal:
    """One container was used; the consumption recorded since the previous empty card was
    ``used``. The difference is what stock must change by to agree (-8: 8 were used without
    being transacted; positive: more was transacted than a container holds)."""
    return sub(used, container_qty)
