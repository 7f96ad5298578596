"""What the inventory core's tests drive: a service on a real file, stations and a stepping clock.

:class:`ShopFloor` wraps an :class:`InventoryService` with one ship, one scrap
and one build station and a :class:`SteppingClock`, and has small helpers to
load a catalog (through the CSV importer, as ``edge import`` does), enter
scans, run commands and read back what was committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, select

from edge.domain import exactjson
from edge.domain.inventory import Identity, Inventory, Posted
from edge.domain.model import DEFAULT_POLICY, InventoryPolicy, Station, StationMode
from edge.domain.ports import Moment
from edge.domain.quantity import ZERO, from_storage
from edge.domain.scanning import ScanInput, ScanOutcome
from edge.masterdata.bom import import_bom
from edge.masterdata.cards import import_cards
from edge.masterdata.items import import_items
from edge.service import InventoryService, PendingScan
from edge.store import schema
from edge.store.catalog import CatalogCache
from edge.store.kept import KeptState
from edge.store.outbox import StockRow, stock_parts, stock_rows
from edge.store.unit_of_work import SqlUnitOfWork
from hardware.barcode import decode

SITE = "plant-1"
NODE = "pack-edge-01"
TOPIC_PREFIX = f"backflush/{SITE}/{NODE}"
SHIP = "PACK-1"
SCRAP = "SCRAP-1"
BUILD = "BUILD-1"
STATIONS = (
    Station(SHIP, StationMode.SHIP),
    Station(SCRAP, StationMode.SCRAP),
    Station(BUILD, StationMode.BUILD),
)

T = TypeVar("T")


class SteppingClock:
    """A :class:`edge.domain.ports.Clock` whose time moves only when the test moves it."""

    def __init__(self) -> None:
        self._wall = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
        self._monotonic = 1000.0
        self._boot_id = "boot-1"

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def boot_id(self) -> str:
        return self._boot_id

    def moment(self) -> Moment:
        return Moment(self._wall, self._monotonic, self._boot_id)

    def advance(self, seconds: float) -> None:
        self._wall += timedelta(seconds=seconds)
        self._monotonic += seconds

    def reboot(self, boot_id: str) -> None:
        """The machine restarted: the monotonic clock starts again under a new boot id."""
        self._wall += timedelta(seconds=60)
        self._monotonic = 5.0
        self._boot_id = boot_id


@dataclass
class ShopFloor:
    """The service under test, its clock, and helpers that read back committed state."""

    service: InventoryService
    clock: SteppingClock
    workdir: Path
    _files: Iterator[int] = field(default_factory=lambda: count(1), init=False, repr=False)

    @property
    def engine(self) -> Engine:
        return self.service.engine

    # --- loading -------------------------------------------------------------
    def load(self, items_csv: str, bom_csv: str | None = None) -> None:
        """Import items (and BOM lines) from CSV text, exactly as ``edge import`` does."""
        number = next(self._files)
        items_path = self.workdir / f"items-{number}.csv"
        items_path.write_text(items_csv, encoding="utf-8")
        import_items(self.service, items_path)
        if bom_csv is not None:
            bom_path = self.workdir / f"bom-{number}.csv"
            bom_path.write_text(bom_csv, encoding="utf-8")
            import_bom(self.service, bom_path)

    def load_cards(self, cards_csv: str) -> None:
        """Import kanban cards from CSV text, exactly as ``edge import cards`` does."""
        path = self.workdir / f"cards-{next(self._files)}.csv"
        path.write_text(cards_csv, encoding="utf-8")
        import_cards(self.service, path)

    def opening(self, **on_hand: str) -> None:
        """Post opening balances, e.g. ``opening(**{"R-1": "10"})``."""
        at = self.clock.moment()

        def post(inventory: Inventory, _uow: SqlUnitOfWork) -> None:
            for part, quantity in on_hand.items():
                inventory.opening(part, Decimal(quantity), at)

        self.service.transact(post)

    # --- scans and commands --------------------------------------------------
    def scan(self, station: str, code: str | bytes, *, scanner: str = "cli") -> ScanOutcome:
        """One scan at a station, decoded and processed as the daemon does."""
        [outcome] = self.scan_batch([(station, code)], scanner=scanner)
        return outcome

    def scan_batch(
        self, codes: list[tuple[str, str | bytes]], *, scanner: str = "cli"
    ) -> list[ScanOutcome]:
        """Several scans committed together (a group commit), each all-or-nothing."""
        pending = []
        for station, code in codes:
            data = code.encode("utf-8") if isinstance(code, str) else code
            read = ScanInput(scanner=scanner, station=station, data=data, at=self.clock.moment())
            pending.append(PendingScan(read, decode(data)))
        return self.service.process_scans(pending)

    def run(self, operation: Callable[[Inventory, Moment], T]) -> T:
        """Run one inventory operation in its own transaction at the clock's current time."""
        at = self.clock.moment()
        return self.service.transact(lambda inventory, _uow: operation(inventory, at))

    def receive(self, part: str, quantity: str, reorder_id: int | None = None) -> Posted:
        return self.run(
            lambda inv, at: inv.receive(part, Decimal(quantity), at, reorder_id=reorder_id)
        )

    def count(self, part: str, counted: str, *, seconds_ago: float | None = None) -> Posted:
        """A count, taken ``seconds_ago`` when given (``edge count --counted-at``)."""

        def count(inventory: Inventory, at: Moment) -> Posted:
            taken = None if seconds_ago is None else at.wall - timedelta(seconds=seconds_ago)
            return inventory.count(part, Decimal(counted), at, counted_at=taken)

        return self.run(count)

    def build(self, part: str, quantity: str) -> Posted:
        return self.run(lambda inv, at: inv.build(part, Decimal(quantity), at))

    def cancel_reorder(self, reorder_id: int) -> str:
        return self.run(lambda inv, at: inv.cancel_reorder(reorder_id, at))

    # --- reading back --------------------------------------------------------
    def rows(self, table: Any, *order_by: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(table).order_by(*order_by)))

    def stock_messages(self) -> dict[str, StockRow]:
        """Every part's retained stock message, rendered as the relay renders it to publish."""
        return {row.part: row for row in stock_rows(self.engine, stock_parts(self.engine))}

    def stock_message(self, part: str) -> dict[str, Any]:
        payload: dict[str, Any] = exactjson.loads(self.stock_messages()[part].payload)
        return payload

    def on_hand(self, part: str) -> Decimal:
        for row in self.rows(schema.balances):
            if row.part == part:
                return from_storage(row.on_hand)
        return ZERO

    def balances(self) -> dict[str, Decimal]:
        return {row.part: from_storage(row.on_hand) for row in self.rows(schema.balances)}

    def events(self, after_seq: int = 0) -> list[dict[str, Any]]:
        """Outbox payloads in ``seq`` order, quantities as exact decimals."""
        return [
            exactjson.loads(row.payload)
            for row in self.rows(schema.outbox, schema.outbox.c.seq)
            if row.seq > after_seq
        ]

    def last_seq(self) -> int:
        rows = self.rows(schema.outbox, schema.outbox.c.seq)
        return rows[-1].seq if rows else 0

    def scans(self) -> list[Any]:
        return self.rows(schema.scans, schema.scans.c.id)

    def transactions(self) -> list[Any]:
        return self.rows(schema.transactions, schema.transactions.c.id)

    def ledger(self, txn_id: int | None = None) -> list[tuple[str, Decimal]]:
        """(part, signed quantity) ledger rows in the order written."""
        return [
            (row.part, from_storage(row.quantity))
            for row in self.rows(schema.ledger, schema.ledger.c.id)
            if txn_id is None or row.txn_id == txn_id
        ]

    def reorders(self) -> list[Any]:
        return self.rows(schema.reorders, schema.reorders.c.id)


def make_service(
    engine: Engine,
    stations: tuple[Station, ...] = STATIONS,
    policy: InventoryPolicy = DEFAULT_POLICY,
) -> InventoryService:
    return InventoryService(engine, Identity(site=SITE, node=NODE), TOPIC_PREFIX, stations, policy)


class LedgerFailure(RuntimeError):
    """The failure a :class:`FailingLedgerUnitOfWork` injects."""


class FailingLedgerUnitOfWork(SqlUnitOfWork):
    """The real unit of work, except that each stock transaction's ``fail_on_call``-th
    ledger write raises.

    Counted per transaction, so the same scan fails whether it is committed
    in a batch or, after a batch failed, alone.
    """

    def __init__(
        self,
        engine: Engine,
        catalog: CatalogCache,
        topic_prefix: str,
        kept: KeptState,
        *,
        fail_on_call: int,
    ) -> None:
        super().__init__(engine, catalog, topic_prefix, kept)
        self.fail_on_call = fail_on_call
        self.ledger_calls = 0

    def add_transaction(self, kind: str, at: Moment, **details: Any) -> int:
        self.ledger_calls = 0
        return super().add_transaction(kind, at, **details)

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
        self.ledger_calls += 1
        if self.ledger_calls == self.fail_on_call:
            raise LedgerFailure(f"ledger write {self.ledger_calls} failed")
        super().append_ledger(txn_id, part, quantity, kind, bom_hash=bom_hash, scan_id=scan_id)


class FailingLedgerService(InventoryService):
    """The real service whose stock transactions fail on their ``fail_on_call``-th ledger write."""

    def __init__(self, engine: Engine, *, fail_on_call: int) -> None:
        super().__init__(engine, Identity(site=SITE, node=NODE), TOPIC_PREFIX, STATIONS)
        self.fail_on_call = fail_on_call

    def unit_of_work(self) -> SqlUnitOfWork:
        return FailingLedgerUnitOfWork(
            self.engine, self.catalog, self.topic_prefix, self.kept, fail_on_call=self.fail_on_call
        )
