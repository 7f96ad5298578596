"""The read-only query behind ``edge labels parts``: each item with what its label prints.

Plain SQL on the sqlite3 driver in one read snapshot, as edge/store/queries.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.store.queries import snapshot

if TYPE_CHECKING:
    from edge.store.queries import Source

_ITEMS = "SELECT part, description, uom FROM items ORDER BY part"
_ALIASES = "SELECT part, code FROM aliases ORDER BY code"


@dataclass(frozen=True, slots=True)
class PartLine:
    """An item as its part label shows it."""

    part: str
    description: str
    uom: str
    aliases: tuple[str, ...]


def label_parts(source: Source, parts: Sequence[str] | None = None) -> list[PartLine]:
    """Every item (only ``parts``, when given), sorted by part, with its aliases."""
    with snapshot(source) as connection:
        items = connection.execute(_ITEMS).fetchall()
        aliases: dict[str, list[str]] = {}
        for part, code in connection.execute(_ALIASES):
            aliases.setdefault(part, []).append(code)
    wanted = None if parts is None else set(parts)
    return [
        PartLine(part, description, uom, tuple(aliases.get(part, ())))
        for part, description, uom in items
        if wanted is None or part in wanted
    ]
