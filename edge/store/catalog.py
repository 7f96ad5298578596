"""The catalog (items, aliases, BOMs) read on demand, and the cache that keeps it current.

Nothing is loaded whole: a transaction asks for the items, aliases and BOMs
it needs through its own connection, and what it read is kept for the next
ones in bounded caches (least recently used forgotten first). Held whole, a
50,000-item catalog took some 50 MB of the daemon's 80 MB budget.

The caches belong to one catalog version. Imports raise the ``catalog``
counter in the same transaction as their changes, so a transaction that
reads version V sees exactly the rows every entry cached under V was read
from; a new version starts with empty caches. A transaction that changed the
catalog itself (an import) reads through private caches, never shared,
since what it sees is not committed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

from sqlalchemy.engine import Connection

from edge.domain.bom import BomGraph, ExplosionMemo
from edge.domain.lru import Lru
from edge.domain.model import BomLine, Item
from edge.domain.quantity import from_storage
from edge.store import schema
from edge.store.rows import item_from_row

# How many of each are kept per version. An item with its reorder fields is
# about 0.6 kB; a scan of a 50-component product touches some 70 items. A
# miss costs one indexed query (a BOM also reads its components' items, and
# their aliases in one scan of that table: about 1 ms with 40,000 aliases).
ITEMS_KEPT: Final = 2048
ALIASES_KEPT: Final = 2048
BOMS_KEPT: Final = 512


class _Absent:
    """Kept for a code or part that is not in the catalog: asked again, no query."""


_ABSENT: Final = _Absent()

_BATCH: Final = 500  # parts per IN (...) list, well under SQLite's bound-parameter limit

# Plain SQL on the driver: a cold product reads a few hundred rows, and
# building each statement in SQLAlchemy cost more than SQLite's answer (a
# 300-component BOM's first scan: 177 ms, now 49). Table and column names come
# from schema.py; every value is a bound parameter.
_COLUMNS = ", ".join(column.name for column in schema.items.columns)
_ITEMS, _ALIASES, _BOMS = schema.items.name, schema.aliases.name, schema.bom_lines.name
_ITEMS_IN: Final = f"SELECT {_COLUMNS} FROM {_ITEMS} WHERE part IN ({{}})"  # noqa: S608
_ALIASES_OF: Final = f"SELECT code, part FROM {_ALIASES} WHERE part IN ({{}})"  # noqa: S608
_ALIAS: Final = f"SELECT part FROM {_ALIASES} WHERE code = ?"  # noqa: S608
_CARD: Final = f"SELECT 1 FROM {schema.cards.name} WHERE card = ?"  # noqa: S608
_BOM: Final = f"SELECT parent, component, qty_per, scrap_pct FROM {_BOMS} WHERE parent = ?"  # noqa: S608


def _in(statement: str, count: int) -> str:
    return statement.format(", ".join("?" * count))


class CatalogState:
    """What transactions read of one catalog version, kept for the next ones."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.items: Lru[str, Item | _Absent] = Lru(ITEMS_KEPT)
        self.aliases: Lru[str, str | _Absent] = Lru(ALIASES_KEPT)
        self.boms: Lru[str, tuple[BomLine, ...]] = Lru(BOMS_KEPT)
        self.cards: Lru[str, bool] = Lru(ALIASES_KEPT)
        self.memo = ExplosionMemo()


class Catalog:
    """Items, aliases and BOMs of one catalog version, read through one transaction."""

    def __init__(self, state: CatalogState, connection: Connection) -> None:
        self._state = state
        self._connection = connection
        self.graph = BomGraph.over(self, state.memo)

    @property
    def version(self) -> int:
        return self._state.version

    def item(self, part: str) -> Item | None:
        found = self._state.items.get(part)
        if found is None:
            # From what was read, not from the cache: another thread may evict it first.
            found = self._load_items([part])[part]
        return found if isinstance(found, Item) else None

    def part_for_alias(self, code: str) -> str | None:
        found = self._state.aliases.get(code)
        if found is None:
            row = self._connection.exec_driver_sql(_ALIAS, (code,)).first()
            found = self._state.aliases.put(code, _ABSENT if row is None else row.part)
        return found if isinstance(found, str) else None

    def is_card(self, code: str) -> bool:
        """Whether a kanban card has this id (cards are catalog: an import changes them)."""
        found = self._state.cards.get(code)
        if found is None:
            row = self._connection.exec_driver_sql(_CARD, (code,)).first()
            found = self._state.cards.put(code, row is not None)
        return found

    # --- BomSource, for the graph ----------------------------------------------------
    def bom(self, part: str) -> Sequence[BomLine]:
        lines = self._state.boms.get(part)
        if lines is None:
            rows = self._connection.exec_driver_sql(_BOM, (part,)).all()
            lines = tuple(
                BomLine(row.parent, row.component, from_storage(row.qty_per),
                        from_storage(row.scrap_pct))
                for row in rows
            )  # fmt: skip
            self._state.boms.put(part, lines)
            # The explosion asks for every component next: one query for all of them.
            self._load_items(
                [line.component for line in lines if line.component not in self._state.items]
            )
        return lines

    def stocked(self, part: str) -> bool:
        item = self.item(part)
        return item is not None and item.stocked

    def _load_items(self, parts: list[str]) -> dict[str, Item | _Absent]:
        """Read ``parts`` (with their aliases) into the item cache, absent ones marked."""
        read: dict[str, Item | _Absent] = {}
        for start in range(0, len(parts), _BATCH):
            batch = parts[start : start + _BATCH]
            rows = self._connection.exec_driver_sql(_in(_ITEMS_IN, len(batch)), tuple(batch)).all()
            codes: dict[str, list[str]] = {}
            if rows:
                # aliases.part has no index: one scan of the table per batch, not
                # per item, and none for codes that are no part (a GTIN asked as one).
                found_parts = tuple(row.part for row in rows)
                alias_rows = self._connection.exec_driver_sql(
                    _in(_ALIASES_OF, len(found_parts)), found_parts
                )
                for alias in alias_rows:
                    codes.setdefault(alias.part, []).append(alias.code)
            found = {
                row.part: item_from_row(row, tuple(sorted(codes.get(row.part, ())))) for row in rows
            }
            for part in batch:
                read[part] = self._state.items.put(part, found.get(part, _ABSENT))
        return read


class CatalogCache:
    """Keeps what was read of the catalog between transactions; dropped when an import changed it.

    Imports raise the ``catalog`` counter in the same transaction as their
    changes, so comparing one integer tells whether the cache is current.
    """

    def __init__(self) -> None:
        self._state: CatalogState | None = None
        self._lock = threading.Lock()

    def get(self, connection: Connection, version: int) -> Catalog:
        """The catalog of ``version``, the ``catalog`` counter as the transaction read it."""
        with self._lock:
            if self._state is None or self._state.version != version:
                self._state = CatalogState(version)
            state = self._state
        return Catalog(state, connection)


def load_catalog(connection: Connection, version: int) -> Catalog:
    """The catalog as ``connection`` sees it, with caches of its own (for uncommitted changes)."""
    return Catalog(CatalogState(version), connection)
