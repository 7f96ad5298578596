"""An in-memory :class:`~edge.domain.ports.InventoryStore` for fast tests of the domain's rules.

:class:`InMemoryStore` keeps every table the domain reaches through the port
(catalog, balances, ledger, transactions, shipped serials, reorders, station
state, scan journal, counters, outbox and stock snapshots) in plain Python
containers (their rows are in :mod:`tests.unit.fake_tables`), with the
semantics of :class:`edge.store.unit_of_work.SqlUnitOfWork`.
What goes in comes back as the SQLite store gives it back: quantities in their
stored canonical form, times at the millisecond precision of the stored text,
event payloads and stock snapshots as the JSON a consumer reads. It imports
nothing of SQLAlchemy; ``test_store_parity.py`` runs one sequence of
operations through this store and through the real one and compares them.

Loading helpers take domain objects: :meth:`InMemoryStore.load_catalog`
(items and BOM lines, as an import would leave them) and
:meth:`InMemoryStore.post_opening` (opening balances, posted through the
inventory rules as ``edge import`` posts stock.csv).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from edge.domain import exactjson
from edge.domain.bom import BomCycleError, BomGraph, Lines, find_cycle
from edge.domain.cards import (
    card_code_problems,
    card_part_problems,
    code_is_a_card,
    container_problems,
    first_mark,
    upserted_card,
)
from edge.domain.catalog import CatalogProblem, is_phantom
from edge.domain.inventory import Identity, Inventory
from edge.domain.model import BomLine, Card, Item, Reorder
from edge.domain.ports import (
    VOID_STOPS,
    Balance,
    InventoryStore,
    KanbanMark,
    Moment,
    PendingControl,
    ScanRecord,
    StationState,
    TransactionRecord,
)
from edge.domain.quantity import ZERO, from_storage, to_storage, total
from edge.domain.stock_message import StockSnapshot
from edge.domain.timestamps import parse_rfc3339, rfc3339
from edge.domain.usage import CountRecord, LastCount, Usage, usage_of_rows
from tests.unit.fake_tables import (
    JournalRow,
    LedgerRow,
    OutboxRow,
    ReorderRow,
    Tables,
    TransactionRow,
)

# The site and node of tests.shop_floor (which imports SQLAlchemy, so is not
# imported here); the parity test's payload comparison holds the two together.
TEST_IDENTITY = Identity(site="plant-1", node="pack-edge-01")


class ConstraintError(Exception):
    """A write the database's keys would refuse (SQLite raises an IntegrityError)."""


def stored(quantity: Decimal) -> Decimal:
    """A quantity as it reads back from its TEXT column (canonical, no exponent)."""
    return from_storage(to_storage(quantity))


def stored_moment(at: Moment) -> Moment:
    """A moment as it reads back: wall time as RFC 3339 text (milliseconds), monotonic exact."""
    return Moment(parse_rfc3339(rfc3339(at.wall)), at.monotonic, at.boot_id)


def as_published(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload as the outbox holds it: written as exact JSON and read back."""
    loaded: dict[str, Any] = exactjson.loads(exactjson.dumps(dict(payload)))
    return loaded


class InMemoryStore(InventoryStore):
    """The domain's store in memory: one long transaction that tests read back directly."""

    def __init__(self) -> None:
        self._tables = Tables()
        self._graph: BomGraph | None = None  # built from the catalog when first asked for

    # --- loading (what an import leaves behind) ---------------------------------
    def load_catalog(self, items: Iterable[Item], bom: Iterable[BomLine] = ()) -> None:
        """Add or update items (with their aliases) and replace the BOM of each parent named.

        An item's aliases replace the ones it had. They are taken as given:
        normalize GTINs to 14 digits first, as the importer does. Like an
        import, a BOM line naming an unknown part, an alias owned by another
        part and a cycle are refused, changing nothing.
        """
        tables = self._tables.copy()
        for item in items:
            if tables.aliases.get(item.part, item.part) != item.part:
                raise ConstraintError(f"{item.part!r} is already an alias of another part")
            for code in [code for code, owner in tables.aliases.items() if owner == item.part]:
                del tables.aliases[code]
            if item.part in tables.cards:
                raise ConstraintError(code_is_a_card(item.part, "part").message)
            for code in item.aliases:
                if code in tables.cards:
                    raise ConstraintError(code_is_a_card(code, "aliases").message)
                owner = tables.aliases.get(code)
                if owner is not None and owner != item.part:
                    raise ConstraintError(f"alias {code!r} already belongs to {owner!r}")
                if code in tables.items:
                    raise ConstraintError(f"alias {code!r} is also a part number")
                tables.aliases[code] = item.part
            tables.items[item.part] = _as_stored_item(item)
        replaced: dict[str, list[BomLine]] = {}
        for line in bom:
            for part in (line.parent, line.component):
                if part not in tables.items:
                    raise ConstraintError(f"BOM line {line} names unknown part {part!r}")
            kept = replace(line, qty_per=stored(line.qty_per), scrap_pct=stored(line.scrap_pct))
            replaced.setdefault(line.parent, []).append(kept)
        tables.boms.update({parent: tuple(lines) for parent, lines in replaced.items()})
        cycle = find_cycle(tables.boms)
        if cycle is not None:
            raise BomCycleError(cycle)
        self._tables = tables
        self.bump_catalog()
        self._graph = None

    def load_cards(self, cards: Iterable[Card], at: Moment) -> None:
        """Add or update kanban cards, as ``edge import cards`` leaves them.

        The import's rules (edge/domain/cards.py) refuse, changing nothing: a
        card id that is a part or an alias, a part that is unknown, a phantom
        or not kanban, a container_qty not above 0, and a known card moved to
        another part. A known card keeps its state; a new one is full. A part's
        first card starts its reconciliation at the part's use so far.
        """
        tables = self._tables.copy()
        for card in cards:
            item = tables.items.get(card.part)
            holds_stock = item is not None and not is_phantom(
                has_bom=card.part in tables.boms, stocked=item.stocked
            )
            problems = [
                *card_code_problems(card.card, part_of_alias=tables.aliases.get(card.card),
                                    is_part=card.card in tables.items),
                *card_part_problems(card.part, item, stocked=holds_stock),
                *container_problems(card.container_qty),
            ]  # fmt: skip
            kept = upserted_card(card, tables.cards.get(card.card))
            if isinstance(kept, CatalogProblem):
                problems.append(kept)
            if problems or isinstance(kept, CatalogProblem):
                raise ConstraintError("; ".join(problem.message for problem in problems))
            if card.part not in tables.kanban_marks:
                mark = first_mark(self.balance(card.part).used, at.wall)
                tables.kanban_marks[card.part] = KanbanMark(stored(mark.used), mark.at)
            tables.cards[card.card] = replace(kept, container_qty=stored(card.container_qty))
        self._tables = tables
        self.bump_catalog()

    def post_opening(
        self, stock: Mapping[str, Decimal], at: Moment, identity: Identity = TEST_IDENTITY
    ) -> None:
        """Opening balances, posted through the rules (ledger kind ``opening``, count events).

        All or nothing, like a stock.csv import: a part that has stock history
        already raises :class:`~edge.domain.inventory.Rejection` ``has-history``.
        """
        inventory = Inventory(self, identity)
        with self.savepoint():
            for part, quantity in stock.items():
                inventory.opening(part, quantity, at)

    # --- what SqlUnitOfWork offers beside the port ---------------------------------
    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a block all-or-nothing: an exception puts every table back as it was."""
        saved = self._tables.copy()
        try:
            yield
        except BaseException:
            self._tables = saved
            self._graph = None
            raise

    def raise_boot(self) -> int:
        return self._bump("boot")

    def bump_catalog(self) -> None:
        self._bump("catalog")

    def _bump(self, name: str) -> int:
        value = self._tables.counters.get(name, 0) + 1
        self._tables.counters[name] = value
        return value

    # --- catalog -----------------------------------------------------------------
    def item(self, part: str) -> Item | None:
        return self._tables.items.get(part)

    def part_for_alias(self, code: str) -> str | None:
        return self._tables.aliases.get(code)

    def bom_graph(self) -> BomGraph:
        if self._graph is None:
            stocked = [part for part, item in self._tables.items.items() if item.stocked]
            self._graph = BomGraph(self._tables.boms, stocked)
        return self._graph

    def store_structure(self, bom_hash: str, lines: Lines) -> None:
        self._tables.structures.setdefault(bom_hash, tuple(lines))

    # --- stock -------------------------------------------------------------------
    def balance(self, part: str) -> Balance:
        return self._tables.balances.get(part, Balance(ZERO, armed=True))

    def save_balance(self, part: str, balance: Balance) -> None:
        counted = balance.counted
        if counted is not None:
            counted = LastCount(counted.at, stored(counted.counted), _stored_usage(counted.used))
        self._tables.balances[part] = Balance(
            stored(balance.on_hand),
            balance.armed,
            _stored_usage(balance.used),
            tuple((day, stored(quantity)) for day, quantity in balance.daily),
            counted,
        )

    def has_ledger_rows(self, part: str) -> bool:
        return any(row.part == part for row in self._tables.ledger)

    def moved_since(self, part: str, since: datetime) -> Decimal:
        # Compared as stored: at millisecond precision, like the SQL's text.
        after = stored_moment(Moment(since, 0.0, "")).wall
        transactions = self._tables.transactions
        return total(
            row.quantity for row in self._tables.ledger
            if row.part == part and transactions[row.txn_id].at.wall > after
        )  # fmt: skip

    def usage_since(self, part: str, since: datetime) -> Usage:
        after = stored_moment(Moment(since, 0.0, "")).wall
        transactions = self._tables.transactions
        voided = {row.voided_by: row for row in transactions.values() if row.voided_by is not None}
        rows = []
        for row in self._tables.ledger:
            txn = transactions[row.txn_id]
            if row.part != part or txn.at.wall <= after:
                continue
            original = voided.get(txn.id)
            reversed_kind, reversed_part = (None, None) if original is None else (
                original.kind, original.part)  # fmt: skip
            rows.append((row.quantity, txn.kind, txn.part, reversed_kind, reversed_part))
        return usage_of_rows(part, rows)

    def add_count(self, txn_id: int, record: CountRecord) -> None:
        if txn_id not in self._tables.transactions or txn_id in self._tables.counts:
            raise ConstraintError(f"count of unknown or counted transaction {txn_id}")
        self._tables.counts[txn_id] = replace(
            record,
            book=stored(record.book),
            counted=stored(record.counted),
            variance=stored(record.variance),
            used=_stored_usage(record.used),
            tolerance_pct=stored(record.tolerance_pct),
        )

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
        txn_id = _next_id(self._tables.transactions)
        self._tables.transactions[txn_id] = TransactionRow(
            id=txn_id,
            kind=kind,
            part=part,
            quantity=_stored_or_none(quantity),
            station=station,
            scanner=scanner,
            scan_id=scan_id,
            bom_hash=bom_hash,
            reason=reason,
            at=stored_moment(at),
        )
        return txn_id

    def set_transaction_event(self, txn_id: int, event_id: str) -> None:
        self._update_transaction(txn_id, event_id=event_id)

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
        if txn_id not in self._tables.transactions:
            raise ConstraintError(f"ledger row for unknown transaction {txn_id}")
        row_id = len(self._tables.ledger) + 1
        self._tables.ledger.append(
            LedgerRow(row_id, txn_id, part, stored(quantity), kind, scan_id, bom_hash)
        )

    def ledger_rows(self, txn_id: int) -> list[tuple[str, Decimal]]:
        return [(row.part, row.quantity) for row in self._tables.ledger if row.txn_id == txn_id]

    def newest_voidable(self, station: str) -> TransactionRecord | None:
        for txn_id in sorted(self._tables.transactions, reverse=True):
            row = self._tables.transactions[txn_id]
            if row.station == station and row.kind in VOID_STOPS:
                return row.record()
        return None

    def mark_voided(self, txn_id: int, void_txn_id: int) -> None:
        self._update_transaction(txn_id, voided_by=void_txn_id)

    def _update_transaction(self, txn_id: int, **changes: Any) -> None:
        # An UPDATE of a missing row changes nothing, as in SQL.
        row = self._tables.transactions.get(txn_id)
        if row is not None:
            self._tables.transactions[txn_id] = replace(row, **changes)

    # --- serials -----------------------------------------------------------------
    def serial_shipped(self, gtin: str, serial: str) -> bool:
        return (gtin, serial) in self._tables.serials

    def record_serial(self, gtin: str, serial: str, txn_id: int) -> None:
        if (gtin, serial) in self._tables.serials:
            raise ConstraintError(f"serial {serial} of GTIN {gtin} is already recorded")
        self._tables.serials[gtin, serial] = txn_id

    def free_serials(self, txn_id: int) -> None:
        serials = self._tables.serials
        for key in [key for key, owner in serials.items() if owner == txn_id]:
            del serials[key]

    # --- reorders ----------------------------------------------------------------
    def open_reorders(self, part: str) -> list[Reorder]:
        rows = self._tables.reorders
        return [rows[i].reorder() for i in sorted(rows) if rows[i].part == part and rows[i].open]

    def reorder(self, reorder_id: int) -> Reorder | None:
        row = self._tables.reorders.get(reorder_id)
        return None if row is None else row.reorder()

    def add_reorder(self, part: str, quantity: Decimal, at: Moment) -> int:
        reorder_id = _next_id(self._tables.reorders)
        self._tables.reorders[reorder_id] = ReorderRow(
            id=reorder_id,
            part=part,
            ordered=stored(quantity),
            received=ZERO,
            open=True,
            created_at=rfc3339(at.wall),
        )
        return reorder_id

    def update_reorder(
        self, reorder_id: int, *, received: Decimal, close_reason: str | None, at: Moment
    ) -> None:
        row = self._tables.reorders.get(reorder_id)
        if row is None:
            return  # an UPDATE of a missing row changes nothing
        row = replace(row, received=stored(received))
        if close_reason is not None:
            row = replace(row, open=False, close_reason=close_reason, closed_at=rfc3339(at.wall))
        self._tables.reorders[reorder_id] = row

    def set_reorder_reference(self, reorder_id: int, reference: str, at: Moment) -> None:
        row = self._tables.reorders.get(reorder_id)
        if row is not None:  # an UPDATE of a missing row changes nothing
            self._tables.reorders[reorder_id] = replace(
                row, reference=reference, acknowledged_at=rfc3339(at.wall)
            )

    # --- kanban cards ------------------------------------------------------------
    def card(self, code: str) -> Card | None:
        return self._tables.cards.get(code)

    def cards_of(self, part: str) -> list[Card]:
        return sorted(
            (card for card in self._tables.cards.values() if card.part == part),
            key=lambda card: card.card,
        )

    def save_card(self, card: Card, at: Moment) -> None:
        if card.card in self._tables.cards:  # an UPDATE of a missing row changes nothing
            self._tables.cards[card.card] = card

    def kanban_mark(self, part: str) -> KanbanMark | None:
        return self._tables.kanban_marks.get(part)

    def save_kanban_mark(self, part: str, mark: KanbanMark) -> None:
        self._tables.kanban_marks[part] = KanbanMark(stored(mark.used), mark.at)

    # --- stations ----------------------------------------------------------------
    def station_state(self, station: str) -> StationState:
        return self._tables.stations.get(station, StationState())

    def save_station_state(self, station: str, state: StationState) -> None:
        def kept(pending: PendingControl | None) -> PendingControl | None:
            if pending is None:
                return None
            return PendingControl(pending.value, stored_moment(pending.at), pending.scan_id)

        self._tables.stations[station] = StationState(
            qty=kept(state.qty), reason=kept(state.reason), mode=state.mode
        )

    # --- scan journal ------------------------------------------------------------
    def add_scan(self, scan: ScanRecord, status: str, reason: str | None) -> int:
        scan_id = _next_id(self._tables.scans)
        kept = scan._replace(at=stored_moment(scan.at))
        self._tables.scans[scan_id] = JournalRow(scan_id, kept, status, reason)
        return scan_id

    def set_scan_outcome(self, scan_id: int, status: str, reason: str | None) -> None:
        row = self._tables.scans.get(scan_id)
        if row is not None:
            self._tables.scans[scan_id] = replace(row, status=status, reason=reason)

    # --- outbox ------------------------------------------------------------------
    def stream(self) -> str:
        return self._tables.stream

    def next_seq(self) -> int:
        return self._bump("seq")

    def boot(self) -> int:
        return self._tables.counters.get("boot", 0)

    def add_event(self, seq: int, event_id: str, event_type: str, payload: dict[str, Any]) -> None:
        outbox = self._tables.outbox
        if seq in outbox or any(row.event_id == event_id for row in outbox.values()):
            raise ConstraintError(f"event seq {seq} or id {event_id} is already in the outbox")
        outbox[seq] = OutboxRow(
            seq, event_id, event_type, as_published(payload), payload["occurred_at"]
        )

    def restate_stock(self, part: str, at: datetime) -> None:
        self._tables.restated[part] = parse_rfc3339(rfc3339(at))  # as stored: milliseconds

    # --- reading back (for assertions) ------------------------------------------
    def counts(self) -> list[tuple[int, CountRecord]]:
        """Every count with its transaction id, oldest first."""
        return [(i, self._tables.counts[i]) for i in sorted(self._tables.counts)]

    def balance_rows(self) -> dict[str, Balance]:
        return dict(self._tables.balances)

    def balances(self) -> dict[str, Decimal]:
        return {part: balance.on_hand for part, balance in self._tables.balances.items()}

    def ledger(self, txn_id: int | None = None) -> list[LedgerRow]:
        return [row for row in self._tables.ledger if txn_id is None or row.txn_id == txn_id]

    def transactions(self) -> list[TransactionRow]:
        return [self._tables.transactions[i] for i in sorted(self._tables.transactions)]

    def reorders(self) -> list[ReorderRow]:
        return [self._tables.reorders[i] for i in sorted(self._tables.reorders)]

    def scans(self) -> list[JournalRow]:
        return [self._tables.scans[i] for i in sorted(self._tables.scans)]

    def shipped_serials(self) -> dict[tuple[str, str], int]:
        return dict(self._tables.serials)

    def structures(self) -> dict[str, Lines]:
        return dict(self._tables.structures)

    def outbox(self) -> list[OutboxRow]:
        return [self._tables.outbox[seq] for seq in sorted(self._tables.outbox)]

    def events(self, after_seq: int = 0) -> list[dict[str, Any]]:
        """Event payloads in ``seq`` order, as published (quantities as exact decimals)."""
        return [copy.deepcopy(row.payload) for row in self.outbox() if row.seq > after_seq]

    def last_seq(self) -> int:
        return self._tables.counters.get("seq", 0)

    def snapshots(self) -> dict[str, dict[str, Any]]:
        """Each restated part's retained message, rendered as the relay renders it: from the
        part's state now, as of its last restatement."""
        rendered: dict[str, dict[str, Any]] = {}
        for part, at in self._tables.restated.items():
            item = self.item(part)
            cards = tuple(self.cards_of(part)) if item is not None and item.kanban else None
            snapshot = StockSnapshot(part, self.balance(part), self.on_order(part), item, at, cards)
            rendered[part] = as_published(snapshot.payload())
        return rendered


def _as_stored_item(item: Item) -> Item:
    """The item as the catalog reads it back: stored quantities, aliases sorted."""
    policy = item.policy
    return replace(
        item,
        policy=replace(
            policy,
            reorder_point=_stored_or_none(policy.reorder_point),
            reorder_qty=_stored_or_none(policy.reorder_qty),
            max_qty=_stored_or_none(policy.max_qty),
            order_multiple=_stored_or_none(policy.order_multiple),
        ),
        aliases=tuple(sorted(item.aliases)),
    )


def _stored_usage(usage: Usage) -> Usage:
    return Usage(stored(usage.backflush), stored(usage.scrap), stored(usage.issue),
                 stored(usage.bom))  # fmt: skip


def _stored_or_none(quantity: Decimal | None) -> Decimal | None:
    return None if quantity is None else stored(quantity)


def _next_id(rows: Mapping[int, object]) -> int:
    """An INTEGER PRIMARY KEY's next value: one above the largest (reused after a rollback)."""
    return max(rows, default=0) + 1
