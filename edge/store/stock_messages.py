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

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy.engine import Connection

from edge.domain.model import Card, Item, ReorderPolicy, Replenishment
from edge.domain.ports import Balance
from edge.domain.quantity import ZERO, from_storage
from edge.domain.stock_message import StockSnapshot
from edge.domain.timestamps import parse_rfc3339
from edge.store.rows import (
    BALANCE_COLUMNS,
    CARD_COLUMNS,
    balance_from_row,
    card_from_row,
    optional_quantity,
)

# What the message shows of an item: read alone, on the driver. Through SQLAlchemy's
# rows and the catalog's whole item, rendering a part cost 30 us on the relay's thread.
_ITEM_COLUMNS: Final = ("part", "description", "uom", "reorder_point", "replenishment")


def render(connection: Connection, due: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The message text of each part of ``due`` (part, as of in RFC 3339), by part.

    One query per table for all of ``due``: the caller keeps it within
    SQLite's bound parameters (outbox.py reads them in chunks).
    """
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the connection has no driver connection")
    texts: dict[str, str] = {}
    moments: dict[str, datetime] = {}  # a transaction's parts share their moment
    parts = [part for part, _ in due]
    balances = {row[0]: balance_from_row(row[1:])
                for row in _select(driver, BALANCE_COLUMNS, "balances", parts)}  # fmt: skip
    items = {row[0]: _item(*row) for row in _select(driver, _ITEM_COLUMNS, "items", parts)}
    on_order = {part: from_storage(quantity) for part, quantity
                in _select(driver, ("part", "quantity"), "on_order", parts)}  # fmt: skip
    cards = _cards(driver, [part for part, item in items.items() if item.kanban])
    for part, as_of in due:
        item = items.get(part)
        kanban = item is not None and item.kanban
        at = moments.get(as_of)
        if at is None:
            at = moments[as_of] = parse_rfc3339(as_of)
        snapshot = StockSnapshot(
            part, balances.get(part) or Balance(ZERO), on_order.get(part, ZERO), item, at,
            tuple(cards.get(part, ())) if kanban else None,
        )  # fmt: skip
        texts[part] = snapshot.text()
    return texts


def _item(
    part: str, description: str, uom: str, reorder_point: str | None, replenishment: str
) -> Item:
    policy = ReorderPolicy(reorder_point=optional_quantity(reorder_point))
    return Item(part, description, uom, policy=policy, replenishment=Replenishment(replenishment))


def _cards(driver: sqlite3.Connection, parts: list[str]) -> dict[str, list[Card]]:
    by_part: dict[str, list[Card]] = {}
    for row in _select(driver, CARD_COLUMNS, "cards", parts, " ORDER BY card"):
        card = card_from_row(row)
        by_part.setdefault(card.part, []).append(card)
    return by_part


def _select(
    driver: sqlite3.Connection,
    columns: Sequence[str],
    table: str,
    parts: list[str],
    order: str = "",
) -> list[tuple[Any, ...]]:
    """The rows of these parts; ``columns`` and ``table`` are the schema's own names."""
    if not parts:
        return []
    statement = (f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - see the docstring
                 f"WHERE part IN ({', '.join('?' * len(parts))}){order}")  # fmt: skip
    return driver.execute(statement, parts).fetchall()
