"""The read behind ``edge variance``: each part's counts, the BOM lines using it, its item.

Read-only and on the standard library's sqlite3 driver, like queries.py (whose
snapshot it shares); what the counts mean is edge/domain/variance.py's to say.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.domain.model import BomLine
from edge.domain.quantity import from_storage
from edge.domain.timestamps import rfc3339
from edge.domain.usage import CountRecord
from edge.domain.variance import CountVariance, PartVariance, analyse
from edge.store.queries import snapshot
from edge.store.rows import COUNT_COLUMNS, count_from_row

if TYPE_CHECKING:
    from edge.store.queries import Source

# Fixed names only are put together here (S608): the values are parameters.
_COUNTS = f"SELECT {', '.join(COUNT_COLUMNS)} FROM counts"  # noqa: S608
_LINES = "SELECT parent, component, qty_per, scrap_pct FROM bom_lines"
_ITEMS = "SELECT part, description, uom FROM items"


class UnknownPart(LookupError):
    """``--part`` named no item."""


@dataclass(frozen=True, slots=True)
class PartReport:
    """A part's counts judged, with what people need beside them."""

    description: str
    uom: str
    variance: PartVariance

    @property
    def part(self) -> str:
        return self.variance.part

    def as_json(self) -> dict[str, Any]:
        """The part, its verdict, its latest count's variance, and every count."""
        judged, latest = self.variance, self.variance.latest
        return {
            "part": self.part,
            "description": self.description,
            "uom": self.uom,
            "verdict": judged.verdict.value,
            "latest_variance": None if latest is None else latest.record.variance,
            "latest_variance_pct": None if latest is None else latest.pct,
            "tolerance_pct": None if latest is None else latest.record.tolerance_pct,
            "last_counted_at": None if latest is None else latest.record.counted_at,
            "judged_counts": judged.judged,  # how many of the latest counts the verdict rests on
            "implied_per_parent": [
                {"parent": use.parent, "qty_per": use.qty_per, "implied": use.implied}
                for use in judged.implied
            ],
            "counts": [_count_json(count) for count in judged.counts],
        }


_USED_KEYS = ("backflush", "scrap", "issue", "bom")  # bom: the part of the three through BOMs


def _count_json(count: CountVariance) -> dict[str, Any]:
    record, used = count.record, count.record.used
    return {
        "counted_at": record.counted_at,
        "previous_at": record.previous_at,
        "book": record.book,
        "counted": record.counted,
        "variance": record.variance,
        "variance_pct": count.pct,  # of the consumption since the previous count
        "tolerance_pct": record.tolerance_pct,
        "over_tolerance": count.over,
        "consumed": used.total,
        "used": dict(
            zip(_USED_KEYS, (used.backflush, used.scrap, used.issue, used.bom), strict=True)
        ),
    }


def variance(
    source: Source, *, since: datetime | None = None, part: str | None = None
) -> list[PartReport]:
    """Every part with counts (at or after ``since``; only ``part``), sorted by part.

    The counts of a part are taken in the order they were posted (the
    transaction's id): that is the order each one's consumption since the
    previous count was measured in.
    """
    conditions, values = [], []
    if since is not None:
        conditions.append("counted_at >= ?")  # one format (timestamps.rfc3339): text order
        values.append(rfc3339(since))
    if part is not None:
        conditions.append("part = ?")
        values.append(part)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    with snapshot(source) as connection:
        items = {row[0]: row for row in _items(connection, part)}
        if part is not None and part not in items:
            raise UnknownPart(f"no item {part!r}")
        rows = connection.execute(f"{_COUNTS}{where} ORDER BY part, txn_id", values).fetchall()
        lines = _lines(connection, part)
    counts: dict[str, list[CountRecord]] = {}
    for row in rows:
        record = count_from_row(tuple(row[1:]))
        counts.setdefault(record.part, []).append(record)
    uses: dict[str, list[BomLine]] = {}
    for line in lines:
        uses.setdefault(line.component, []).append(line)
    return [
        PartReport(items[name][1], items[name][2], analyse(name, records, uses.get(name, ())))
        for name, records in sorted(counts.items())
    ]


def _items(connection: sqlite3.Connection, part: str | None) -> list[Any]:
    if part is None:
        return connection.execute(_ITEMS).fetchall()
    return connection.execute(f"{_ITEMS} WHERE part = ?", (part,)).fetchall()


def _lines(connection: sqlite3.Connection, part: str | None) -> list[BomLine]:
    if part is None:
        rows = connection.execute(_LINES).fetchall()
    else:
        rows = connection.execute(f"{_LINES} WHERE component = ?", (part,)).fetchall()
    return [
        BomLine(parent, component, from_storage(qty_per), from_storage(scrap_pct))
        for parent, component, qty_per, scrap_pct in rows
    ]
