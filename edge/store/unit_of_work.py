"""The unit of work: one SQLite transaction implementing the domain's store.

A unit of work owns one connection inside ``BEGIN IMMEDIATE``. The scan
journal, ledger, balances, reorders, station state and outbox are all written
through it and committed together.

The scan writer runs one of these per batch, so its cost per scan is the
budget of the whole scan path (SPEC §9: 200 µs of writer CPU for a
7-component backflush). Three things keep it there:

* every statement of the scan path is plain SQL on the driver's connection:
  building, caching and compiling a SQLAlchemy statement costs about a
  hundred times more than SQLite executing it;
* what one transaction reads is kept for the next (kept.py): balances,
  quantities on order, station state, the next ids, the stream and boot,
  right as long as no other process wrote, which one query at the start of
  each transaction tells;
* new rows wait (pending.py) and are written at commit, one statement per
  table for the whole batch, each with the id the unit of work gave it.

Errors from these statements are raised as SQLAlchemy's, like all others.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from edge.domain import exactjson
from edge.domain.bom import BomGraph, Lines
from edge.domain.model import Item, Reorder
from edge.domain.ports import InventoryStore
from edge.domain.timestamps import rfc3339
from edge.publish.topics import event_topic, stock_topic
from edge.store.catalog import Catalog, CatalogCache, load_catalog
from edge.store.counters import BOOT, CATALOG, SEQ, WRITES
from edge.store.database import driver_error
from edge.store.kept import KeptState, Markers, NextIds, Overlay
from edge.store.pending import PendingRows
from edge.store.repositories import ScanJournal, ShippedSerials, StationStates, TransactionLog
from edge.store.rows import station_state_values
from edge.store.statements import (
    BUMP_COUNTER,
    DATA_VERSION,
    HAS_STRUCTURE,
    KEPT_MARKERS,
    NEXT_IDS,
    READ_COUNTER,
    RESTATE_STOCK,
    SAVE_BALANCE,
    SAVE_STATION_STATE,
    SET_COUNTER,
    chunks,
    many_rows,
    row_groups,
)
from edge.store.stock_store import StockStore
from edge.store.turns import WriteTurns, write_turn

_flat = itertools.chain.from_iterable

__all__ = ["CatalogCache", "KeptState", "SqlUnitOfWork"]


class SqlUnitOfWork(
    ScanJournal, TransactionLog, ShippedSerials, StationStates, StockStore, InventoryStore
):
    """One write transaction. Use as a context manager; call :meth:`commit`.

    Leaving the block without a commit rolls everything back. ``kept`` is
    shared by the transactions of one process (one at a time: see turns.py).
    """

    def __init__(
        self,
        engine: Engine,
        catalog: CatalogCache,
        topic_prefix: str,
        kept: KeptState | None = None,
    ) -> None:
        self._engine = engine
        self._catalog_cache = catalog
        self._topic_prefix = topic_prefix
        self._kept = kept if kept is not None else KeptState()
        self._connection: Connection | None = None
        self._driver: sqlite3.Connection | None = None
        self._markers: Markers | None = None
        self._catalog: Catalog | None = None
        self._catalog_changed = False
        self._savepoints = 0
        self._turn: WriteTurns | None = None
        self._overlay = Overlay()
        self._rows = PendingRows()
        self._reorder_lists: dict[str, list[Reorder]] = {}
        self._serials_known: dict[tuple[str, str], bool] = {}

    # --- transaction control -------------------------------------------------
    def __enter__(self) -> Self:
        # Queue behind this process's other writers first (see turns.py).
        turn = write_turn(self._engine)
        turn.take()
        self._turn = turn
        try:
            kept = self._kept
            if kept.connection is not None:
                self._connection, self._driver = kept.connection, kept.driver
            else:
                self._connection = self._engine.connect()
                self._driver = self._connection.connection.driver_connection
            # On the driver: SQLAlchemy's transaction costs a one-scan transaction more
            # than SQLite's BEGIN. A statement sent through SQLAlchemy in it still
            # begins SQLAlchemy's, without a second BEGIN (database.py).
            self._sql("BEGIN IMMEDIATE")
            self._markers = self._read_markers()
        except BaseException:
            self._close(broken=True)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broken = True
        try:
            # Also after a commit that failed, which leaves SQLite's transaction open.
            if self._driver is not None and self._driver.in_transaction:
                self._sql("ROLLBACK")
            if self.connection.in_transaction():
                self.connection.rollback()  # SQLAlchemy's only: SQLite has none open
            broken = False
        finally:
            self._close(broken=broken)

    def _close(self, *, broken: bool = False) -> None:
        """Give the connection back, unless it is the one the writer holds and still sound."""
        connection = self._connection
        if connection is not None and (broken or connection is not self._kept.connection):
            if connection is self._kept.connection:
                self._kept.connection = None  # the writer's next transaction takes a fresh one
            connection.close()
        self._connection = None
        self._driver = None
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.give_back()

    def _read_markers(self) -> Markers:
        kept = self._kept
        held = self._connection is not None and self._connection is kept.connection
        if held:
            # On the held connection, SQLite itself tells whether another connection
            # committed since its last transaction: then nothing kept is stale.
            [(version,)] = self._sql(DATA_VERSION).fetchall()
            if kept.markers is not None and kept.data_version == version:
                return kept.markers
        row = self._sql(KEPT_MARKERS, (CATALOG, WRITES)).fetchone()
        if row is None:
            raise RuntimeError("the database has no stream row (run edge migrate)")
        markers = Markers(*row)
        kept.check(markers)
        kept.data_version = version if held else None
        return markers

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def commit(self, then: Callable[[], None] | None = None) -> None:
        """Commit durably; ``then`` runs as soon as SQLite's COMMIT has returned.

        ``then`` is the scan writer's good-read answer: the bookkeeping that
        follows the commit (what is kept for the next transaction) is memory
        only, and the operator does not wait for it. It must not raise.
        """
        self._flush()
        # Read under the write lock when the transaction began: nobody else changed it.
        writes = self._opened().writes + 1
        self._write_state(counters=[(WRITES, writes)])
        self._sql("COMMIT")
        try:
            if then is not None:
                then()
        finally:
            if self.connection.in_transaction():
                self.connection.commit()  # SQLAlchemy's only: SQLite's is committed
            self._kept.merge(self._overlay, writes)
            if self._catalog_changed:
                self._kept.data_version = None  # its markers changed here: read them again
            self._overlay = Overlay()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a block all-or-nothing inside the open transaction.

        What is pending is written first, so a rollback to the savepoint and
        the overlay as it was describe the same database.
        """
        self._flush()
        self._write_state()
        saved = self._overlay.copy()
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self._sql(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._overlay = saved
            self._rows.clear()
            self._reorder_lists.clear()
            self._serials_known.clear()
            self._sql(f"ROLLBACK TO {name}")
            self._sql(f"RELEASE {name}")
            raise
        self._sql(f"RELEASE {name}")

    def _flush(self) -> None:
        if self._rows:
            self._rows.write(self._sql_many)

    def _write_state(self, counters: list[tuple[str, int]] | None = None) -> None:
        """Write the newest balance, station state and stock state of each, and the counters.

        ``counters``: values to set besides the seq, in the same statement.
        """
        overlay = self._overlay
        if overlay.unsaved_balances:
            balances, values = overlay.balances, self._kept.daily_texts.balance_values
            self._sql_many(SAVE_BALANCE, [
                values(part, balances[part]) for part in sorted(overlay.unsaved_balances)
            ])  # fmt: skip
            overlay.unsaved_balances = set()
        if overlay.unsaved_stations:
            self._sql_many(SAVE_STATION_STATE, [
                station_state_values(station, overlay.stations[station])
                for station in sorted(overlay.unsaved_stations)
            ])  # fmt: skip
            overlay.unsaved_stations = set()
        if overlay.restated:
            self._sql_many(RESTATE_STOCK, [
                (part, stock_topic(self._topic_prefix, part), rfc3339(at))
                for part, at in sorted(overlay.restated.items())
            ])  # fmt: skip
            overlay.restated = {}
        counters = list(counters or [])
        ids = overlay.ids
        if ids is not None and ids.position != overlay.ids_written:
            counters.append((SEQ, ids.position - 1))
            overlay.ids_written = ids.position
        if counters:
            self._sql_many(SET_COUNTER, counters)

    # --- running statements (OpenTransaction, used by the store's parts) ------
    def _sql(self, statement: str, parameters: Any = ()) -> sqlite3.Cursor:
        """One statement on the driver's connection, in this transaction."""
        driver = self._driver
        if driver is None:
            raise RuntimeError("the unit of work is not open")
        try:
            return driver.execute(statement, parameters)
        except sqlite3.Error as error:
            raise driver_error(statement, parameters, error) from error

    def _sql_many(self, statement: str, rows: list[Any]) -> None:
        """Write ``rows`` with ``statement``, many rows per statement (see statements.many_rows)."""
        groups = chunks(len(rows))
        if len(groups) == 1:  # a transaction of a few scans: no slices, no generator
            self._sql(many_rows(statement, len(rows)), tuple(_flat(rows)))
            return
        for text, values, _rows in row_groups(statement, rows):
            self._sql(text, values)

    def _next_ids(self) -> NextIds:
        ids = self._overlay.ids
        if ids is None:
            kept = self._kept.ids
            if kept is None:
                scan, txn, position = self._sql(NEXT_IDS, (SEQ,)).fetchone()
                kept = self._kept.ids = NextIds(scan, txn, position)
            ids = self._overlay.ids = NextIds(kept.scan, kept.txn, kept.position)
            self._overlay.ids_written = ids.position
        return ids

    # --- catalog -------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            if self._catalog_changed:
                # Not yet committed: never share it through the cache.
                self._catalog = load_catalog(self.connection, self._counter(CATALOG))
            else:
                version = self._opened().catalog
                self._catalog = self._catalog_cache.get(self.connection, version)
        return self._catalog

    def item(self, part: str) -> Item | None:
        return self.catalog.item(part)

    def part_for_alias(self, code: str) -> str | None:
        return self.catalog.part_for_alias(code)

    def bom_graph(self) -> BomGraph:
        return self.catalog.graph

    def store_structure(self, bom_hash: str, lines: Lines) -> None:
        # Asked of the database only when this transaction has not stored it
        # itself, so what the answer puts in the kept state is committed.
        overlay = self._overlay
        if bom_hash in overlay.structures or bom_hash in self._kept.structures:
            return
        if self._sql(HAS_STRUCTURE, (bom_hash,)).fetchone() is not None:
            self._kept.structures.put(bom_hash, True)
            return
        text = exactjson.dumps([[part, quantity] for part, quantity in lines])
        self._rows.structures.append((bom_hash, text, rfc3339(datetime.now(UTC))))
        overlay.structures.add(bom_hash)

    # --- counters and the outbox ---------------------------------------------
    # The "seq" counter numbers outbox rows across streams (the relay's order);
    # an event's seq is its row's position minus its stream's base (0005).
    def _opened(self) -> Markers:
        if self._markers is None:
            raise RuntimeError("the unit of work is not open")
        return self._markers

    def _counter(self, name: str) -> int:
        row = self._sql(READ_COUNTER, (name,)).fetchone()
        return 0 if row is None else int(row[0])

    def _bump(self, name: str) -> int:
        [(value,)] = self._sql(BUMP_COUNTER, (name,)).fetchall()
        return int(value)

    def stream(self) -> str:
        return self._opened().stream

    def next_seq(self) -> int:
        ids = self._next_ids()
        position, ids.position = ids.position, ids.position + 1
        return position - self._opened().seq_base

    def boot(self) -> int:
        boot = self._overlay.boot if self._overlay.boot is not None else self._kept.boot
        if boot is None:
            boot = self._kept.boot = self._counter(BOOT)
        return boot

    def raise_boot(self) -> int:
        """Start a new boot (``edge run`` only)."""
        self._overlay.boot = self._bump(BOOT)
        return self._overlay.boot

    def bump_catalog(self) -> None:
        self._bump(CATALOG)
        self._catalog = None
        self._catalog_changed = True

    def add_event(self, seq: int, event_id: str, event_type: str, payload: dict[str, Any]) -> None:
        topic = event_topic(self._topic_prefix, event_type)
        position = seq + self._opened().seq_base
        self._rows.events.append(
            (position, event_id, event_type, topic, exactjson.dumps(payload),
             payload["occurred_at"])
        )  # fmt: skip
