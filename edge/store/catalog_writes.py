"""The master-data apply path's reads and bulk writes (items, aliases, BOM lines, cards, history).

Reads take a whole table (or a whole file's parts) in a few statements, on
any connection: the validators read a snapshot outside the write lock, and
the apply transaction reads again only what can have changed. Writes are
multi-row statements on the driver connection (statements.many_rows), one
statement per 256 rows: a 50,000-row items file is some 200 statements, not
50,000 built one per row.

Table and column names come from schema.py; every value is a bound parameter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from sqlalchemy.engine import Connection

from edge.domain.model import BomLine, Card, Item
from edge.domain.quantity import from_storage
from edge.store import schema
from edge.store.counters import CATALOG
from edge.store.database import driver_error
from edge.store.rows import CARD_COLUMNS, card_from_row, item_from_row
from edge.store.statements import READ_COUNTER, RESTATE_STOCK, row_groups

_IN_BATCH: Final = 500  # parts per IN (...) list, well under the bound-parameter limit

ITEM_WRITE_COLUMNS: Final = (
    "part", "description", "uom", "stocked", "reorder_point", "reorder_qty", "max_qty",
    "order_multiple", "lead_time_days", "replenishment", "count_tolerance_pct", "updated_at",
)  # fmt: skip
"""The order of the values of each row :func:`upsert_items` writes."""


def _names(table: Any, columns: Sequence[str]) -> str:
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise LookupError(f"table {table.name} has no column {', '.join(unknown)}")
    return ", ".join(columns)


_ITEMS, _ALIASES, _BOMS = schema.items.name, schema.aliases.name, schema.bom_lines.name
_UPSERT_ITEM: Final = (
    f"INSERT INTO {_ITEMS} ({_names(schema.items, ITEM_WRITE_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' * len(ITEM_WRITE_COLUMNS))}) ON CONFLICT (part) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in ITEM_WRITE_COLUMNS[1:])
)
_DELETE_ALIASES_OF: Final = f"DELETE FROM {_ALIASES} WHERE part = ?"  # noqa: S608
_ADD_ALIAS: Final = f"INSERT INTO {_ALIASES} (code, part) VALUES (?, ?)"  # noqa: S608
_DELETE_BOM_OF: Final = f"DELETE FROM {_BOMS} WHERE parent = ?"  # noqa: S608
_BOM_COLUMNS: Final = ("parent", "component", "qty_per", "scrap_pct")
_ADD_BOM_LINE: Final = (
    f"INSERT INTO {_BOMS} ({_names(schema.bom_lines, _BOM_COLUMNS)}) "  # noqa: S608
    "VALUES (?, ?, ?, ?)"
)
_ITEM_COLUMNS: Final = ", ".join(column.name for column in schema.items.columns)
_ALL_ITEMS: Final = f"SELECT {_ITEM_COLUMNS} FROM {_ITEMS}"  # noqa: S608
_PARTS: Final = f"SELECT part FROM {_ITEMS}"  # noqa: S608
_PARENTS: Final = f"SELECT DISTINCT parent FROM {_BOMS}"  # noqa: S608
_ALL_ALIASES: Final = f"SELECT code, part FROM {_ALIASES}"  # noqa: S608
_ALL_BOM_LINES: Final = f"SELECT parent, component, qty_per, scrap_pct FROM {_BOMS}"  # noqa: S608
_WITH_BALANCE: Final = f"SELECT part FROM {schema.balances.name} WHERE part IN ({{}})"  # noqa: S608
_ON_ORDER: Final = f"SELECT part, quantity FROM {schema.on_order.name}"  # noqa: S608
_REPLENISHMENTS: Final = f"SELECT part, replenishment, count_tolerance_pct FROM {_ITEMS}"  # noqa: S608
_CARDS, _MARKS = schema.cards.name, schema.kanban_marks.name
_ALL_CARDS: Final = f"SELECT {_names(schema.cards, CARD_COLUMNS)} FROM {_CARDS}"  # noqa: S608
# A known card keeps its state (a scan may have emptied or refilled it since the
# snapshot was read: card states are no catalog); only its quantity and place change.
_CARD_WRITE_COLUMNS: Final = ("card", "part", "container_qty", "location", "updated_at")
_UPSERT_CARD: Final = (
    f"INSERT INTO {_CARDS} ({_names(schema.cards, _CARD_WRITE_COLUMNS)}) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (card) DO UPDATE SET container_qty = "
    "excluded.container_qty, location = excluded.location, updated_at = excluded.updated_at"
)
_MARKED: Final = f"SELECT part FROM {_MARKS} WHERE part IN ({{}})"  # noqa: S608
_ADD_MARK: Final = f"INSERT INTO {_MARKS} (part, used, at) VALUES (?, ?, ?)"  # noqa: S608


# --- reads (a snapshot outside the lock, or again inside it) --------------------------


def catalog_version(connection: Connection) -> int:
    """The ``catalog`` counter (0 before any import) as this connection's transaction sees it."""
    row = connection.exec_driver_sql(READ_COUNTER, (CATALOG,)).first()
    return 0 if row is None else int(row[0])


def item_parts(connection: Connection) -> set[str]:
    return {row[0] for row in connection.exec_driver_sql(_PARTS)}


def bom_parents(connection: Connection) -> set[str]:
    return {row[0] for row in connection.exec_driver_sql(_PARENTS)}


def alias_owners(connection: Connection) -> dict[str, str]:
    return {str(code): str(part) for code, part in connection.exec_driver_sql(_ALL_ALIASES)}


def all_items(connection: Connection) -> dict[str, Item]:
    """Every item, without its aliases (the apply path's checks never read them)."""
    return {row.part: item_from_row(row, ()) for row in connection.exec_driver_sql(_ALL_ITEMS)}


def all_bom_lines(connection: Connection) -> dict[str, list[BomLine]]:
    boms: dict[str, list[BomLine]] = {}
    for parent, component, qty_per, scrap_pct in connection.exec_driver_sql(_ALL_BOM_LINES):
        line = BomLine(parent, component, from_storage(qty_per), from_storage(scrap_pct))
        boms.setdefault(parent, []).append(line)
    return boms


def _in_batches(connection: Connection, statement: str, parts: Sequence[str]) -> Iterator[Any]:
    """The rows of ``statement`` (one ``IN ({})`` list) over all of ``parts``."""
    for start in range(0, len(parts), _IN_BATCH):
        batch = tuple(parts[start : start + _IN_BATCH])
        yield from connection.exec_driver_sql(statement.format(", ".join("?" * len(batch))), batch)


def parts_with_history(connection: Connection, parts: Sequence[str]) -> set[str]:
    """Those of ``parts`` that have ledger rows (a balance row exists exactly then)."""
    return {row[0] for row in _in_batches(connection, _WITH_BALANCE, parts)}


def item_replenishments(connection: Connection) -> list[tuple[str, str, str | None]]:
    """(part, replenishment, count_tolerance_pct as stored) of every item."""
    return [(row[0], row[1], row[2]) for row in connection.exec_driver_sql(_REPLENISHMENTS)]


def all_cards(connection: Connection) -> dict[str, Card]:
    """Every kanban card, by id."""
    return {row[0]: card_from_row(tuple(row)) for row in connection.exec_driver_sql(_ALL_CARDS)}


def cards_per_part(cards: Iterable[Card]) -> dict[str, int]:
    """How many cards each part has (parts without any: absent)."""
    counts: dict[str, int] = {}
    for card in cards:
        counts[card.part] = counts.get(card.part, 0) + 1
    return counts


def unmarked_parts(connection: Connection, parts: Sequence[str]) -> list[str]:
    """Those of ``parts`` without a kanban mark yet (no card was ever loaded for them)."""
    marked = {row[0] for row in _in_batches(connection, _MARKED, parts)}
    return [part for part in parts if part not in marked]


def quantities_on_order(connection: Connection) -> dict[str, Any]:
    """What each part's open reorders still bring in, by part (parts without any: absent)."""
    return {part: from_storage(text) for part, text in connection.exec_driver_sql(_ON_ORDER)}


# --- bulk writes, in the apply transaction -------------------------------------------


def _driver(connection: Connection) -> sqlite3.Connection:
    driver = connection.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        raise TypeError("the connection has no sqlite3 driver connection")
    return driver


def _write_many(driver: sqlite3.Connection, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    for text, values, _rows in row_groups(statement, rows):
        try:
            driver.execute(text, values)
        except sqlite3.Error as error:
            raise driver_error(text, values, error) from error


def _each_row(driver: sqlite3.Connection, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    try:
        driver.executemany(statement, rows)
    except sqlite3.Error as error:
        raise driver_error(statement, (), error) from error


def upsert_items(
    connection: Connection,
    items: Sequence[Sequence[Any]],
    aliases: Iterable[tuple[str, Sequence[str]]],
) -> None:
    """Add or update ``items`` (values in :data:`ITEM_WRITE_COLUMNS` order).

    ``aliases``: (part, codes) for each part whose aliases are replaced by ``codes``.
    """
    driver = _driver(connection)
    _write_many(driver, _UPSERT_ITEM, items)
    replaced = list(aliases)
    # All the old aliases go before any new one is written: a code may move
    # from one part of the file to another.
    _each_row(driver, _DELETE_ALIASES_OF, [(part,) for part, _ in replaced])
    _write_many(driver, _ADD_ALIAS, [(code, part) for part, codes in replaced for code in codes])


def upsert_cards(connection: Connection, cards: Sequence[Sequence[Any]]) -> None:
    """Add cards (full) or change known ones' quantity and location, keeping their state.

    ``cards``: (card, part, container_qty as stored, location, updated_at).
    """
    _write_many(_driver(connection), _UPSERT_CARD, cards)


def add_kanban_marks(connection: Connection, marks: Sequence[tuple[str, str, str]]) -> None:
    """Start parts' reconciliations: (part, used as stored, at)."""
    _write_many(_driver(connection), _ADD_MARK, marks)


def replace_bom_lines(connection: Connection, boms: Iterable[tuple[str, Sequence[Any]]]) -> None:
    """Give each parent exactly these lines.

    ``boms``: (parent, [(component, qty_per, scrap_pct) as stored, ...]).
    """
    driver = _driver(connection)
    replaced = list(boms)
    _each_row(driver, _DELETE_BOM_OF, [(parent,) for parent, _ in replaced])
    _write_many(driver, _ADD_BOM_LINE, [(parent, *line) for parent, lines in replaced
                                        for line in lines])  # fmt: skip


def restate_stock(connection: Connection, parts: Sequence[tuple[str, str, str]]) -> None:
    """Make parts' retained stock messages due: (part, topic, as of, RFC 3339).

    The same statement as the unit of work's own: a new version for the relay
    to render and publish.
    """
    _write_many(_driver(connection), RESTATE_STOCK, parts)
