"""The retained ``stock/{part}`` messages, rendered from the stored state when published.

A transaction only marks a part's message due (``stock_state``: a new
version and the moment it is as of): rendering fifteen keys for every part
it touched was a fifth of a one-scan transaction's instructions, on the
path an operator waits on. The relay renders each due message here, in the
read transaction it reads the due versions in, from the part's balance,
item, quantity on order and, for a kanban part, its cards, through the
domain's :class:`~edge.domain.stock_message.StockSnapshot`; so a message
published later than its change says what the part's stored state says, as
of that change.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

from sqlalchemy.engine import Connection

from edge.domain.model import Card
from edge.domain.ports import Balance
from edge.domain.quantity import ZERO, from_storage
from edge.domain.stock_message import StockSnapshot
from edge.domain.timestamps import parse_rfc3339
from edge.store import schema
from edge.store.rows import (
    BALANCE_COLUMNS,
    CARD_COLUMNS,
    balance_from_row,
    card_from_row,
    item_from_row,
)

# SQLite allows 32766 bound parameters; stay far below it.
_CHUNK: Final = 500
_ITEM_COLUMNS: Final = tuple(column.name for column in schema.items.columns)


def render(connection: Connection, due: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The message text of each part of ``due`` (part, as of in RFC 3339), by part."""
    texts: dict[str, str] = {}
    for chunk in _chunks(due):
        parts = [part for part, _ in chunk]
        balances = {row[0]: balance_from_row(tuple(row[1:]))
                    for row in _select(connection, BALANCE_COLUMNS, "balances", parts)}  # fmt: skip
        items = {row.part: item_from_row(row, ())
                 for row in _select(connection, _ITEM_COLUMNS, "items", parts)}  # fmt: skip
        on_order = {part: from_storage(quantity) for part, quantity
                    in _select(connection, ("part", "quantity"), "on_order", parts)}  # fmt: skip
        cards = _cards(connection, [part for part, item in items.items() if item.kanban])
        for part, as_of in chunk:
            item = items.get(part)
            kanban = item is not None and item.kanban
            snapshot = StockSnapshot(
                part, balances.get(part) or Balance(ZERO), on_order.get(part, ZERO), item,
                parse_rfc3339(as_of), tuple(cards.get(part, ())) if kanban else None,
            )  # fmt: skip
            texts[part] = snapshot.text()
    return texts


def _cards(connection: Connection, parts: list[str]) -> dict[str, list[Card]]:
    by_part: dict[str, list[Card]] = {}
    for row in _select(connection, CARD_COLUMNS, "cards", parts, " ORDER BY card"):
        card = card_from_row(tuple(row))
        by_part.setdefault(card.part, []).append(card)
    return by_part


def _select(
    connection: Connection, columns: Sequence[str], table: str, parts: list[str], order: str = ""
) -> list[Any]:
    """The rows of these parts; ``columns`` and ``table`` are the schema's own names."""
    if not parts:
        return []
    statement = (f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - see the docstring
                 f"WHERE part IN ({', '.join('?' * len(parts))}){order}")  # fmt: skip
    return list(connection.exec_driver_sql(statement, tuple(parts)))


def _chunks(due: Sequence[tuple[str, str]]) -> Iterator[Sequence[tuple[str, str]]]:
    for start in range(0, len(due), _CHUNK):
        yield due[start : start + _CHUNK]
