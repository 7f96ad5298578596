"""The unit of work: one SQLite transaction implementing the domain's store.

A unit of work owns one connection inside ``BEGIN IMMEDIATE``. The scan
journal, ledger, balances, reorders, station state and outbox are all written
through it and committed together. Each scan of a group commit runs inside
its own SAVEPOINT, so a failing scan rolls back alone.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from edge.domain import exactjson
from edge.domain.bom import BomGraph, Lines
from edge.domain.model import BomLine, Item, Reorder, ReorderPolicy
from edge.domain.ports import (
    Balance,
    InventoryStore,
    Moment,
    PendingControl,
    ScanRecord,
    StationState,
    TransactionRecord,
)
from edge.domain.quantity import ZERO, from_storage, to_storage
from edge.store import schema as t


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _optional_quantity(text: str | None) -> Decimal | None:
    return None if text is None else from_storage(text)


def _optional_storage(value: Decimal | None) -> str | None:
    return None if value is None else to_storage(value)


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
        version = _counter(connection, "catalog")
        with self._lock:
            if self._catalog is None or self._catalog.version != version:
                self._catalog = _load_catalog(connection, version)
            return self._catalog


def _counter(connection: Connection, name: str) -> int:
    value = connection.execute(select(t.counters.c.value).where(t.counters.c.name == name))
    return int(value.scalar_one_or_none() or 0)


def bump_counter(connection: Connection, name: str) -> int:
    statement = (
        sqlite_insert(t.counters)
        .values(name=name, value=1)
        .on_conflict_do_update(
            index_elements=[t.counters.c.name], set_={"value": t.counters.c.value + 1}
        )
        .returning(t.counters.c.value)
    )
    return int(connection.execute(statement).scalar_one())


def _item_from_row(row: Any, aliases: tuple[str, ...]) -> Item:
    return Item(
        part=row.part,
        description=row.description,
        uom=row.uom,
        stocked=bool(row.stocked),
        policy=ReorderPolicy(
            reorder_point=_optional_quantity(row.reorder_point),
            reorder_qty=_optional_quantity(row.reorder_qty),
            max_qty=_optional_quantity(row.max_qty),
            order_multiple=_optional_quantity(row.order_multiple),
            lead_time_days=row.lead_time_days,
        ),
        aliases=aliases,
    )


def _load_catalog(connection: Connection, version: int) -> Catalog:
    alias_rows = connection.execute(select(t.aliases.c.code, t.aliases.c.part)).all()
    aliases = {row.code: row.part for row in alias_rows}
    by_part: dict[str, list[str]] = {}
    for code, part in aliases.items():
        by_part.setdefault(part, []).append(code)
    items = {
        row.part: _item_from_row(row, tuple(sorted(by_part.get(row.part, ()))))
        for row in connection.execute(select(t.items))
    }
    boms: dict[str, list[BomLine]] = {}
    for row in connection.execute(select(t.bom_lines)):
        boms.setdefault(row.parent, []).append(
            BomLine(
                row.parent, row.component, from_storage(row.qty_per), from_storage(row.scrap_pct)
            )
        )
    stocked = [part for part, item in items.items() if item.stocked]
    return Catalog(version, items, aliases, BomGraph(boms, stocked))


class SqlUnitOfWork(InventoryStore):
    """One write transaction. Use as a context manager; call :meth:`commit`.

    Leaving the block without a commit rolls everything back.
    """

    def __init__(self, engine: Engine, catalog: CatalogCache, topic_prefix: str) -> None:
        self._engine = engine
        self._catalog_cache = catalog
        self._topic_prefix = topic_prefix
        self._connection: Connection | None = None
        self._catalog: Catalog | None = None
        self._catalog_changed = False
        self._boot: int | None = None

    # --- transaction control -------------------------------------------------
    def __enter__(self) -> Self:
        self._connection = self._engine.connect()
        self._connection.begin()
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

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def commit(self) -> None:
        self.connection.commit()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a block all-or-nothing inside the open transaction."""
        nested = self.connection.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            raise
        nested.commit()

    def _execute(self, statement: Any) -> Any:
        return self.connection.execute(statement)

    # --- catalog -------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            if self._catalog_changed:
                # Not yet committed: never share it through the cache.
                self._catalog = _load_catalog(self.connection, _counter(self.connection, "catalog"))
            else:
                self._catalog = self._catalog_cache.get(self.connection)
        return self._catalog

    def item(self, part: str) -> Item | None:
        return self.catalog.items.get(part)

    def part_for_alias(self, code: str) -> str | None:
        return self.catalog.aliases.get(code)

    def bom_graph(self) -> BomGraph:
        return self.catalog.graph

    def store_structure(self, bom_hash: str, lines: Lines) -> None:
        statement = (
            sqlite_insert(t.bom_structures)
            .values(
                bom_hash=bom_hash,
                lines=exactjson.dumps([[part, quantity] for part, quantity in lines]),
                created_at=rfc3339(datetime.now().astimezone()),
            )
            .on_conflict_do_nothing(index_elements=[t.bom_structures.c.bom_hash])
        )
        self._execute(statement)

    # --- stock ---------------------------------------------------------------
    def balance(self, part: str) -> Balance:
        row = self._execute(
            select(t.balances.c.on_hand, t.balances.c.armed).where(t.balances.c.part == part)
        ).first()
        if row is None:
            return Balance(ZERO, armed=True)
        return Balance(from_storage(row.on_hand), armed=bool(row.armed))

    def save_balance(self, part: str, balance: Balance) -> None:
        values = {"on_hand": to_storage(balance.on_hand), "armed": balance.armed}
        statement = (
            sqlite_insert(t.balances)
            .values(part=part, **values)
            .on_conflict_do_update(index_elements=[t.balances.c.part], set_=values)
        )
        self._execute(statement)

    def has_ledger_rows(self, part: str) -> bool:
        row = self._execute(select(t.ledger.c.id).where(t.ledger.c.part == part).limit(1))
        return row.first() is not None

    def add_transaction(
        self,
        kind: str,
        at: Moment,
        *,
        part: str | None = None,
        quantity: Decimal | None = None,
        station: str | None = None,
        scanner: str | None = None,
        scan_id: int | None = None,
        bom_hash: str | None = None,
        reason: str | None = None,
    ) -> int:
        result = self._execute(
            insert(t.transactions).values(
                kind=kind,
                part=part,
                quantity=_optional_storage(quantity),
                station=station,
                scanner=scanner,
                scan_id=scan_id,
                bom_hash=bom_hash,
                reason=reason,
                at=rfc3339(at.wall),
                mono=at.monotonic,
                boot_id=at.boot_id,
            )
        )
        return int(result.inserted_primary_key[0])

    def set_transaction_event(self, txn_id: int, event_id: str) -> None:
        self._execute(
            update(t.transactions).where(t.transactions.c.id == txn_id).values(event_id=event_id)
        )

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
        self._execute(
            insert(t.ledger).values(
                txn_id=txn_id,
                part=part,
                quantity=to_storage(quantity),
                kind=kind,
                scan_id=scan_id,
                bom_hash=bom_hash,
            )
        )

    def ledger_rows(self, txn_id: int) -> list[tuple[str, Decimal]]:
        rows = self._execute(
            select(t.ledger.c.part, t.ledger.c.quantity)
            .where(t.ledger.c.txn_id == txn_id)
            .order_by(t.ledger.c.id)
        )
        return [(row.part, from_storage(row.quantity)) for row in rows]

    def newest_voidable(self, station: str) -> TransactionRecord | None:
        txn = t.transactions
        row = self._execute(
            select(txn)
            .where(txn.c.station == station, txn.c.kind.in_(("backflush", "scrap", "build")))
            .order_by(txn.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return TransactionRecord(
            id=row.id,
            kind=row.kind,
            part=row.part,
            quantity=_optional_quantity(row.quantity),
            station=row.station,
            scanner=row.scanner,
            scan_id=row.scan_id,
            event_id=row.event_id,
            at=Moment(parse_rfc3339(row.at), row.mono, row.boot_id),
            voided_by=row.voided_by,
        )

    def mark_voided(self, txn_id: int, void_txn_id: int) -> None:
        self._execute(
            update(t.transactions)
            .where(t.transactions.c.id == txn_id)
            .values(voided_by=void_txn_id)
        )

    # --- serials -------------------------------------------------------------
    def serial_shipped(self, gtin: str, serial: str) -> bool:
        serials = t.shipped_serials
        row = self._execute(
            select(serials.c.txn_id).where(serials.c.gtin == gtin, serials.c.serial == serial)
        ).first()
        return row is not None

    def record_serial(self, gtin: str, serial: str, txn_id: int) -> None:
        self._execute(insert(t.shipped_serials).values(gtin=gtin, serial=serial, txn_id=txn_id))

    def free_serials(self, txn_id: int) -> None:
        self._execute(t.shipped_serials.delete().where(t.shipped_serials.c.txn_id == txn_id))

    # --- reorders ------------------------------------------------------------
    @staticmethod
    def _reorder(row: Any) -> Reorder:
        return Reorder(
            id=row.id,
            part=row.part,
            ordered=from_storage(row.ordered),
            received=from_storage(row.received),
            open=bool(row.open),
            created_at=row.created_at,
            close_reason=row.close_reason,
        )

    def open_reorders(self, part: str) -> list[Reorder]:
        rows = self._execute(
            select(t.reorders)
            .where(t.reorders.c.part == part, t.reorders.c.open.is_(True))
            .order_by(t.reorders.c.id)
        )
        return [self._reorder(row) for row in rows]

    def reorder(self, reorder_id: int) -> Reorder | None:
        row = self._execute(select(t.reorders).where(t.reorders.c.id == reorder_id)).first()
        return None if row is None else self._reorder(row)

    def add_reorder(self, part: str, quantity: Decimal, at: Moment) -> int:
        result = self._execute(
            insert(t.reorders).values(
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
        self._execute(update(t.reorders).where(t.reorders.c.id == reorder_id).values(**values))

    # --- stations ------------------------------------------------------------
    def station_state(self, station: str) -> StationState:
        row = self._execute(
            select(t.station_state).where(t.station_state.c.station == station)
        ).first()
        if row is None:
            return StationState()

        def pending(prefix: str) -> PendingControl | None:
            value = getattr(row, prefix)
            if value is None:
                return None
            at = Moment(
                parse_rfc3339(getattr(row, f"{prefix}_at")),
                getattr(row, f"{prefix}_mono"),
                getattr(row, f"{prefix}_boot"),
            )
            return PendingControl(value, at, getattr(row, f"{prefix}_scan"))

        return StationState(qty=pending("qty"), reason=pending("reason"), mode=row.mode)

    def save_station_state(self, station: str, state: StationState) -> None:
        values: dict[str, Any] = {"mode": state.mode}
        for prefix, pending in (("qty", state.qty), ("reason", state.reason)):
            values |= {
                prefix: pending.value if pending else None,
                f"{prefix}_at": rfc3339(pending.at.wall) if pending else None,
                f"{prefix}_mono": pending.at.monotonic if pending else None,
                f"{prefix}_boot": pending.at.boot_id if pending else None,
                f"{prefix}_scan": pending.scan_id if pending else None,
            }
        statement = (
            sqlite_insert(t.station_state)
            .values(station=station, **values)
            .on_conflict_do_update(index_elements=[t.station_state.c.station], set_=values)
        )
        self._execute(statement)

    # --- scan journal --------------------------------------------------------
    def add_scan(self, scan: ScanRecord, status: str, reason: str | None) -> int:
        result = self._execute(
            insert(t.scans).values(
                scanner=scan.scanner,
                station=scan.station,
                data=scan.data,
                code=scan.code,
                symbology=scan.symbology,
                gtin=scan.gtin,
                serial=scan.serial,
                batch=scan.batch,
                status=status,
                reason=reason,
                at=rfc3339(scan.at.wall),
                mono=scan.at.monotonic,
                boot_id=scan.at.boot_id,
            )
        )
        return int(result.inserted_primary_key[0])

    def set_scan_outcome(self, scan_id: int, status: str, reason: str | None) -> None:
        self._execute(
            update(t.scans).where(t.scans.c.id == scan_id).values(status=status, reason=reason)
        )

    # --- outbox --------------------------------------------------------------
    def next_seq(self) -> int:
        return bump_counter(self.connection, "seq")

    def boot(self) -> int:
        if self._boot is None:
            self._boot = _counter(self.connection, "boot")
        return self._boot

    def raise_boot(self) -> int:
        """Start a new boot (``edge run`` only)."""
        self._boot = bump_counter(self.connection, "boot")
        return self._boot

    def bump_catalog(self) -> None:
        bump_counter(self.connection, "catalog")
        self._catalog = None
        self._catalog_changed = True

    def add_event(self, seq: int, event_id: str, event_type: str, payload: dict[str, Any]) -> None:
        self._execute(
            insert(t.outbox).values(
                seq=seq,
                event_id=event_id,
                type=event_type,
                topic=f"{self._topic_prefix}/event/{event_type}",
                payload=exactjson.dumps(payload),
                created_at=payload["occurred_at"],
                attempts=0,
            )
        )

    def put_stock_snapshot(self, part: str, payload: dict[str, Any]) -> None:
        topic = f"{self._topic_prefix}/stock/{urllib.parse.quote(part, safe='')}"
        text = exactjson.dumps(payload)
        statement = (
            sqlite_insert(t.stock_state)
            .values(part=part, topic=topic, payload=text, version=1, published_version=0)
            .on_conflict_do_update(
                index_elements=[t.stock_state.c.part],
                set_={"topic": topic, "payload": text, "version": t.stock_state.c.version + 1},
            )
        )
        self._execute(statement)


def count_rows(connection: Connection, table: Any) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
