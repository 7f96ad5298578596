"""The catalog as one snapshot (items, aliases, BOMs) and the cache that keeps it current."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from edge.domain.bom import BomGraph
from edge.domain.model import BomLine, Item
from edge.domain.quantity import from_storage
from edge.store import schema
from edge.store.counters import CATALOG, read_counter
from edge.store.rows import item_from_row


@dataclass(frozen=True, slots=True)
class Catalog:
    """Items, aliases and BOMs as of one catalog version."""

    version: int
    items: dict[str, Item]
    aliases: dict[str, str]
    graph: BomGraph


class CatalogCache:
    """Keeps the catalog between transactions; reloaded when an import changed it.

    Imports raise the ``catalog`` counter in the same transaction as their
    changes, so comparing one integer tells whether the cache is current.
    """

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def get(self, connection: Connection) -> Catalog:
        version = read_counter(connection, CATALOG)
        with self._lock:
            if self._catalog is None or self._catalog.version != version:
                self._catalog = load_catalog(connection, version)
            return self._catalog


def load_catalog(connection: Connection, version: int) -> Catalog:
    """Every item, alias and BOM line the connection sees, as catalog ``version``."""
    alias_rows = connection.execute(select(schema.aliases.c.code, schema.aliases.c.part)).all()
    aliases = {row.code: row.part for row in alias_rows}
    by_part: dict[str, list[str]] = {}
    for code, part in aliases.items():
        by_part.setdefault(part, []).append(code)
    items = {
        row.part: item_from_row(row, tuple(sorted(by_part.get(row.part, ()))))
        for row in connection.execute(select(schema.items))
    }
    boms: dict[str, list[BomLine]] = {}
    for row in connection.execute(select(schema.bom_lines)):
        boms.setdefault(row.parent, []).append(
            BomLine(
                row.parent, row.component, from_storage(row.qty_per), from_storage(row.scrap_pct)
            )
        )
    stocked = [part for part, item in items.items() if item.stocked]
    return Catalog(version, items, aliases, BomGraph(boms, stocked))
