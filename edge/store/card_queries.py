"""The read-only query behind ``edge cards``: every kanban card, its state, and whether it is late.

Like :mod:`edge.store.queries` it runs plain SQL on the sqlite3 driver in one
read snapshot; what counts as late is the domain's (edge/domain/cards.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from edge.domain.cards import empty_for, is_late
from edge.domain.model import Card
from edge.store.queries import snapshot
from edge.store.rows import CARD_COLUMNS, card_from_row

if TYPE_CHECKING:
    from edge.store.queries import Source

_CARDS = (
    f"SELECT {', '.join(f'c.{name}' for name in CARD_COLUMNS)}, i.uom, i.lead_time_days, "  # noqa: S608
    "i.description "
    "FROM cards AS c JOIN items AS i ON i.part = c.part"
)


@dataclass(frozen=True, slots=True)
class CardLine:
    """One card as ``edge cards`` shows it, at the moment the list was read."""

    card: Card
    uom: str
    lead_time_days: int | None
    empty_for: timedelta | None  # None while full
    late: bool  # empty for longer than the part's lead time
    description: str = ""  # the part's, as printed on the card (edge labels cards)

    def as_json(self) -> dict[str, Any]:
        card = self.card
        return {
            "card": card.card,
            "part": card.part,
            "location": card.location,
            "container_qty": card.container_qty,
            "uom": self.uom,
            "state": card.state.value,
            "emptied_at": card.emptied_at,
            "empty_for_s": None if self.empty_for is None else int(self.empty_for.total_seconds()),
            "lead_time_days": self.lead_time_days,
            "late": self.late,
        }


def cards(source: Source, now: datetime, *, part: str | None = None) -> list[CardLine]:
    """Every card (of ``part``, when given), sorted by part then card, as of ``now`` (UTC)."""
    statement = _CARDS if part is None else f"{_CARDS} WHERE c.part = ?"
    parameters = () if part is None else (part,)
    with snapshot(source) as connection:
        rows = connection.execute(statement, parameters).fetchall()
    lines = []
    for *values, uom, lead_time_days, description in rows:
        card = card_from_row(tuple(values))
        lines.append(
            CardLine(card, uom, lead_time_days, empty_for(card, now),
                     is_late(card, lead_time_days, now), description)
        )  # fmt: skip
    return sorted(lines, key=lambda line: (line.card.part, line.card.card))
