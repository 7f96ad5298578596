"""The unit of work: one SQLite transaction implementing the domain's store.

A unit of work owns one connection inside ``BEGIN IMMEDIATE``. The scan
journal, ledger, balances, reorders, station state and outbox are all written
through it and committed together. Each scan of a group commit runs inside
its own SAVEPOINT, so a failing scan rolls back alone.

This class holds the transaction and what it buffers or caches until commit:
balances, ledger rows, stock snapshots, open reorders and the catalog. The
parts written straight through (scan journal, transaction log, shipped
serials, station state) it inherits from repositories.py.

The statements a scan runs (a few per BOM component: ledger row, balance
read and write, open reorders, stock state) are plain SQL executed on the
driver's connection inside the same transaction: building, caching and
compiling a SQLAlchemy statement costs about a hundred times more than
SQLite executing it, and a 50-component backflush runs some 350 of them.
Errors from those statements are raised as SQLAlchemy's, like all others.
The rest (catalog, VOID, reorders, outbox) stays in SQLAlchemy Core.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, exc, insert, select, update
from sqlalchemy.engine import Connection

from edge.domain import exactjson
from edge.domain.bom import BomGraph, Lines
from edge.domain.model import Item, Reorder
from edge.domain.ports import Balance, InventoryStore, Moment
from edge.domain.quantity import ZERO, from_storage, to_storage
from edge.domain.timestamps import rfc3339
from edge.publish.topics import event_topic, stock_topic
from edge.store import schema
from edge.store.catalog import Catalog, CatalogCache, load_catalog
from edge.store.counters import BOOT, CATALOG, SEQ, bump_counter, read_counter, read_stream
from edge.store.repositories import ScanJournal, ShippedSerials, StationStates, TransactionLog
from edge.store.rows import reorder_from_row
from edge.store.statements import (
    ADD_EVENT,
    ADD_STRUCTURE,
    APPEND_LEDGER,
    BALANCE,
    BUMP_COUNTER,
    HAS_BALANCE,
    HAS_STRUCTURE,
    OPEN_REORDERS,
    PUT_STOCK_SNAPSHOT,
    REORDER,
    SAVE_BALANCE,
)
from edge.store.turns import write_turn

__all__ = ["CatalogCache", "SqlUnitOfWork"]


class SqlUnitOfWork(ScanJournal, TransactionLog, ShippedSerials, StationStates, InventoryStore):
    """One write transaction. Use as a context manager; call :meth:`commit`.

    Leaving the block without a commit rolls everything back.
    """

    def __init__(self, engine: Engine, catalog: CatalogCache, topic_prefix: str) -> None:
        self._engine = engine
        self._catalog_cache = catalog
        self._topic_prefix = topic_prefix
        self._connection: Connection | None = None
        self._driver: sqlite3.Connection | None = None
        self._catalog: Catalog | None = None
        self._catalog_changed = False
        self._boot: int | None = None
        self._stream: tuple[str, int] | None = None  # uuid, seq_base; read once
        self._savepoints = 0
        self._turn = ExitStack()
        # The transaction holds SQLite's write lock (BEGIN IMMEDIATE), so no
        # other connection changes rows underneath it. That allows:
        # - read-through caches of balances and open reorders;
        # - balances and stock snapshots written once per part at commit
        #   ("latest wins"): a group commit of forty scans that touch the same
        #   fifty parts writes fifty balance rows, not two thousand;
        # - ledger rows written in one statement per savepoint.
        # A savepoint rollback puts all of it back as it was at the savepoint.
        self._balances: dict[str, Balance] = {}
        self._unsaved_balances: set[str] = set()
        self._open_reorders: dict[str, list[Reorder]] = {}
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._ledger: list[tuple[Any, ...]] = []

    # --- transaction control -------------------------------------------------
    def __enter__(self) -> Self:
        # Queue behind this process's other writers first (see turns.py).
        self._turn = ExitStack()
        self._turn.enter_context(write_turn(self._engine).turn())
        try:
            self._connection = self._engine.connect()
            self._connection.begin()
        except BaseException:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self._turn.close()
            raise
        self._driver = self._connection.connection.driver_connection
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self.connection
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()
            self._connection = None
            self._driver = None
            self._turn.close()

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def commit(self) -> None:
        self._write_ledger()
        self._write_balances()
        self._write_snapshots()
        self.connection.commit()
        self._balances.clear()
        self._open_reorders.clear()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a block all-or-nothing inside the open transaction.

        Plain SAVEPOINT statements on the driver connection: SQLAlchemy's
        nested transaction costs more than the statements of a small scan.
        """
        self._write_ledger()
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        balances, unsaved = dict(self._balances), set(self._unsaved_balances)
        snapshots = dict(self._snapshots)
        self._sql(f"SAVEPOINT {name}")
        try:
            yield
            self._write_ledger()
        except BaseException:
            self._balances, self._unsaved_balances = balances, unsaved
            self._snapshots = snapshots
            self._ledger.clear()
            self._open_reorders.clear()
            self._sql(f"ROLLBACK TO {name}")
            self._sql(f"RELEASE {name}")
            raise
        self._sql(f"RELEASE {name}")

    # --- running statements (OpenTransaction, used by repositories.py too) ---
    def _execute(self, statement: Any) -> Any:
        return self.connection.execute(statement)

    def _sql(self, statement: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One statement of the scan path, on the driver's connection, in this transaction."""
        return self._on_driver(statement, parameters, many=False)

    def _sql_many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        self._on_driver(statement, rows, many=True)

    def _on_driver(self, statement: str, parameters: Any, *, many: bool) -> sqlite3.Cursor:
        if self._driver is None:
            raise RuntimeError("the unit of work is not open")
        try:
            if many:
                return self._driver.executemany(statement, parameters)
            return self._driver.execute(statement, parameters)
        except sqlite3.Error as error:
            # Raised as SQLAlchemy's, like every other database error.
            raise exc.DBAPIError.instance(statement, parameters, error, sqlite3.Error) from error

    def _insert(self, statement: str, parameters: tuple[Any, ...]) -> int:
        """Insert one row; its new integer primary key."""
        row_id = self._sql(statement, parameters).lastrowid
        if row_id is None:
            raise RuntimeError("the insert reported no row id")
        return row_id

    # --- catalog -------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            if self._catalog_changed:
                # Not yet committed: never share it through the cache.
                self._catalog = load_catalog(
                    self.connection, read_counter(self.connection, CATALOG)
                )
            else:
                self._catalog = self._catalog_cache.get(self.connection)
        return self._catalog

    def item(self, part: str) -> Item | None:
        return self.catalog.item(part)

    def part_for_alias(self, code: str) -> str | None:
        return self.catalog.part_for_alias(code)

    def bom_graph(self) -> BomGraph:
        return self.catalog.graph

    def store_structure(self, bom_hash: str, lines: Lines) -> None:
        if self._sql(HAS_STRUCTURE, (bom_hash,)).fetchone() is not None:
            return
        text = exactjson.dumps([[part, quantity] for part, quantity in lines])
        self._sql(ADD_STRUCTURE, (bom_hash, text, rfc3339(datetime.now(UTC))))

    # --- stock ---------------------------------------------------------------
    def balance(self, part: str) -> Balance:
        cached = self._balances.get(part)
        if cached is not None:
            return cached
        row = self._sql(BALANCE, (part,)).fetchone()
        if row is None:
            balance = Balance(ZERO, armed=True)
        else:
            on_hand, armed = row
            balance = Balance(from_storage(on_hand), armed=bool(armed))
        self._balances[part] = balance
        return balance

    def save_balance(self, part: str, balance: Balance) -> None:
        self._balances[part] = balance
        self._unsaved_balances.add(part)

    def _write_balances(self) -> None:
        rows = [
            (part, to_storage(self._balances[part].on_hand), self._balances[part].armed)
            for part in sorted(self._unsaved_balances)
        ]
        self._unsaved_balances.clear()
        self._sql_many(SAVE_BALANCE, rows)

    def has_ledger_rows(self, part: str) -> bool:
        # Every posting saves the part's balance, so a balance row (stored, or
        # waiting for this commit) exists exactly when the part has ledger rows.
        # Its primary key answers without an index on the ledger's part column.
        if part in self._unsaved_balances:
            return True
        return self._sql(HAS_BALANCE, (part,)).fetchone() is not None

    def append_ledger(
        self,
        txn_id: int,
        part: str,
        quantity: Decimal,
        kind: str,
        *,
        bom_hash: str | None,
        scan_id: int | None,
    ) -> None:
        self._ledger.append((txn_id, part, to_storage(quantity), kind, scan_id, bom_hash))

    def _write_ledger(self) -> None:
        if self._ledger:
            rows, self._ledger = self._ledger, []
            self._sql_many(APPEND_LEDGER, rows)

    def ledger_rows(self, txn_id: int) -> list[tuple[str, Decimal]]:
        self._write_ledger()
        rows = self._execute(
            select(schema.ledger.c.part, schema.ledger.c.quantity)
            .where(schema.ledger.c.txn_id == txn_id)
            .order_by(schema.ledger.c.id)
        )
        return [(row.part, from_storage(row.quantity)) for row in rows]

    # --- reorders ------------------------------------------------------------
    def open_reorders(self, part: str) -> list[Reorder]:
        cached = self._open_reorders.get(part)
        if cached is None:
            rows = self._sql(OPEN_REORDERS, (part,)).fetchall()
            cached = self._open_reorders[part] = [reorder_from_row(row) for row in rows]
        return list(cached)

    def reorder(self, reorder_id: int) -> Reorder | None:
        row = self._sql(REORDER, (reorder_id,)).fetchone()
        return None if row is None else reorder_from_row(row)

    def add_reorder(self, part: str, quantity: Decimal, at: Moment) -> int:
        self._open_reorders.pop(part, None)
        result = self._execute(
            insert(schema.reorders).values(
                part=part,
                ordered=to_storage(quantity),
                received="0",
                open=True,
                created_at=rfc3339(at.wall),
            )
        )
        return int(result.inserted_primary_key[0])

    def update_reorder(
        self, reorder_id: int, *, received: Decimal, close_reason: str | None, at: Moment
    ) -> None:
        values: dict[str, Any] = {"received": to_storage(received)}
        if close_reason is not None:
            values |= {"open": False, "close_reason": close_reason, "closed_at": rfc3339(at.wall)}
        self._open_reorders.clear()  # keyed by part, and only the id is known here
        self._execute(
            update(schema.reorders).where(schema.reorders.c.id == reorder_id).values(**values)
        )

    # --- outbox --------------------------------------------------------------
    # The "seq" counter numbers outbox rows across streams (the relay's order);
    # an event's seq is its row's position minus its stream's base (0005).
    def _stream_row(self) -> tuple[str, int]:
        if self._stream is None:
            self._stream = read_stream(self.connection)
        return self._stream

    def stream(self) -> str:
        return self._stream_row()[0]

    def next_seq(self) -> int:
        [(position,)] = self._sql(BUMP_COUNTER, (SEQ,)).fetchall()
        return int(position) - self._stream_row()[1]

    def boot(self) -> int:
        if self._boot is None:
            self._boot = read_counter(self.connection, BOOT)
        return self._boot

    def raise_boot(self) -> int:
        """Start a new boot (``edge run`` only)."""
        self._boot = bump_counter(self.connection, BOOT)
        return self._boot

    def bump_catalog(self) -> None:
        bump_counter(self.connection, CATALOG)
        self._catalog = None
        self._catalog_changed = True

    def add_event(self, seq: int, event_id: str, event_type: str, payload: dict[str, Any]) -> None:
        topic = event_topic(self._topic_prefix, event_type)
        position = seq + self._stream_row()[1]
        self._sql(
            ADD_EVENT,
            (
                position,
                event_id,
                event_type,
                topic,
                exactjson.dumps(payload),
                payload["occurred_at"],
            ),
        )

    def put_stock_snapshot(self, part: str, payload: dict[str, Any]) -> None:
        self._snapshots[part] = payload

    def _write_snapshots(self) -> None:
        rows = [
            (part, stock_topic(self._topic_prefix, part), exactjson.dumps(payload))
            for part, payload in self._snapshots.items()
        ]
        self._snapshots.clear()
        self._sql_many(PUT_STOCK_SNAPSHOT, rows)
