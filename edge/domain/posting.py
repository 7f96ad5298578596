"""Posting: how a stock transaction reaches the store, and the types every operation shares.

:class:`Posting` is the base of :class:`~edge.domain.inventory.Inventory`: a
transaction is begun, its ledger rows posted, and finished by the stock
rules (balance, low-stock, reorder) for every part it touched and its events
in their fixed order; an event without a stock change is emitted alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from edge.domain import events, ids, payloads
from edge.domain.bom import Lines
from edge.domain.event_layout import UomLines
from edge.domain.model import DEFAULT_POLICY, InventoryPolicy, Item
from edge.domain.plan import LedgerRow, PartRules, rules_of
from edge.domain.ports import Balance, InventoryStore, Moment
from edge.domain.quantity import ZERO, add
from edge.domain.reorder import low_stock, reorder_quantity
from edge.domain.timestamps import rfc3339
from edge.domain.usage import (
    CONSUMING_KINDS,
    CountRecord,
    LastCount,
    add_daily,
    consumed,
)


class Rejection(Exception):
    """An operation the rules refuse; ``reason`` is a short kebab-case code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def not_a_stock_item(part: str, *, known: bool) -> Rejection:
    """Why ``part`` holds no stock: not in the catalog, or (``known``) a phantom assembly."""
    if not known:
        return Rejection("unknown-part", f"unknown part {part!r}")
    return Rejection(
        "phantom-part",
        f"{part!r} is a phantom assembly (stocked = false): it has no stock of its own",
    )


def has_history(part: str) -> Rejection:
    """The refusal of an opening balance for a part that already has ledger rows."""
    return Rejection(
        "has-history", f"{part!r} already has stock history; use `edge count {part} QTY` instead"
    )


@dataclass(frozen=True, slots=True)
class Identity:
    site: str
    node: str


class Origin(NamedTuple):
    """Where a transaction came from: a scan at a station, or the command line."""

    station: str | None = None
    scanner: str | None = None
    scan_id: int | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    """What a committed-to-be transaction did."""

    txn_id: int
    event_id: str
    lines: Lines = ()
    count: CountRecord | None = None  # a count's, as kept for variance


class _Transaction:
    """A transaction being posted. A plain class: a dataclass's six fields with factories
    cost every transaction's ``__init__`` a test and a call each."""

    __slots__ = ("at", "before", "counted", "kind", "on_hand", "parent", "restate",
                 "reversal", "rules", "scan_id", "txn_id", "used", "uses")  # fmt: skip

    def __init__(self, txn_id: int, kind: str, at: Moment, scan_id: int | None) -> None:
        self.txn_id, self.kind, self.at, self.scan_id = txn_id, kind, at, scan_id
        # Whose consumption the rows change: the kind and part of this transaction, or of
        # the one a void reverses (``reversal``); None when the kind consumes nothing.
        self.uses: str | None = None
        self.parent: str | None = None
        self.reversal = False
        self.before: dict[str, Balance] = {}
        self.on_hand: dict[str, Decimal] = {}
        self.used: dict[str, Decimal] = {}  # the change of use, per part
        self.counted: dict[str, LastCount] = {}  # a count's new mark
        # Parts whose retained state changes without a posting (on order, a card's state).
        self.restate: set[str] = set()
        self.rules: Mapping[str, PartRules] = {}  # of the parts its plan posted


class Posting:
    """The store and the identity an operation posts with, and the posting machinery."""

    def __init__(
        self, store: InventoryStore, identity: Identity, policy: InventoryPolicy = DEFAULT_POLICY
    ) -> None:
        self.store = store
        self.identity = identity
        self.policy = policy

    # --- lookups -------------------------------------------------------------
    def stock_item(self, part: str) -> Item:
        """The item, which must exist and hold stock of its own (not a phantom)."""
        item = self.store.item(part)
        if item is None or not self.store.bom_graph().is_stocked(part):
            raise not_a_stock_item(part, known=item is not None)
        return item

    def on_order(self, part: str) -> Decimal:
        return self.store.on_order(part)

    def uom(self, part: str | None) -> str | None:
        """The part's unit of measure, which every quantity of it in an event carries."""
        return self.part_rules(part).uom if part is not None else None

    def part_rules(self, part: str) -> PartRules:
        """What the stock rules need of the part's item (remembered per catalog version)."""
        return self.store.bom_graph().rules(part, lambda known: rules_of(self.store.item(known)))

    def with_uoms(self, lines: Lines) -> UomLines:
        """Event lines: each line's part and quantity with its part's uom."""
        uom = self.uom
        return tuple((part, quantity, uom(part)) for part, quantity in lines)

    # --- machinery -----------------------------------------------------------
    def _begin(
        self,
        kind: str,
        at: Moment,
        origin: Origin,
        *,
        reverses: tuple[str, str | None] | None = None,
        **details: Any,
    ) -> _Transaction:
        """A new transaction; ``reverses`` is the (kind, part) a void takes back."""
        txn_id = self.store.add_transaction(
            kind,
            at,
            station=origin.station,
            scanner=origin.scanner,
            scan_id=origin.scan_id,
            **details,
        )
        txn = _Transaction(txn_id, kind, at, origin.scan_id)
        uses, parent = reverses if reverses is not None else (kind, details.get("part"))
        if uses in CONSUMING_KINDS:
            txn.uses, txn.parent, txn.reversal = uses, parent, reverses is not None
        return txn

    def _post(
        self,
        txn: _Transaction,
        part: str,
        quantity: Decimal,
        bom_hash: str | None,
        *,
        kind: str | None = None,
    ) -> None:
        """One ledger row; ``kind`` when the row's differs from its transaction's (such a row
        consumes nothing)."""
        amount = consumed(quantity, reversal=txn.reversal) if kind is None else ZERO
        self._post_rows(txn, ((part, quantity, amount),), bom_hash, kind or txn.kind)

    def _post_rows(
        self, txn: _Transaction, rows: Iterable[LedgerRow], bom_hash: str | None, kind: str
    ) -> None:
        """Ledger rows of ``kind``, each moving its part's on-hand and, in a transaction that
        consumes, its use (a BOM transaction posts its plan's at once)."""
        store, txn_id, scan_id = self.store, txn.txn_id, txn.scan_id
        before, on_hand, used = txn.before, txn.on_hand, txn.used
        consuming = txn.uses is not None
        for part, quantity, amount in rows:
            store.append_ledger(txn_id, part, quantity, kind, bom_hash=bom_hash, scan_id=scan_id)
            if part not in before:
                balance = before[part] = store.balance(part)
                on_hand[part] = add(balance.on_hand, quantity)
            else:
                on_hand[part] = add(on_hand[part], quantity)
            if consuming and amount != ZERO:
                used[part] = add(used.get(part, ZERO), amount)

    def _finish(
        self, txn: _Transaction, event: events.Event, follow_ups: list[events.Event] | None = None
    ) -> str:
        """Run the stock rules on every touched part and write the events in order."""
        low: list[events.Event] = []
        reorders: list[events.Event] = []
        store = self.store
        wall = txn.at.wall
        today = wall.date().isoformat()
        uses, parent = txn.uses, txn.parent
        befores, on_hand, rules_of_part = txn.before, txn.on_hand, txn.rules
        used_now, counted = txn.used, txn.counted
        for part in sorted(befores):
            before, after = befores[part], on_hand[part]
            rules = rules_of_part.get(part) or self.part_rules(part)
            policy, uom = rules.policy, rules.uom
            point = policy.reorder_point
            verdict = low_stock(before.on_hand, after, armed=before.armed, reorder_point=point)
            # The part's use so far and its daily use, with this transaction's.
            used, daily, change = before.used, before.daily, used_now.get(part)
            if change is not None and uses is not None:
                used = used.plus(uses, change, through_bom=part != parent)
                daily = add_daily(daily, today, change)
            balance = Balance(after, verdict.armed, used, daily, counted.get(part, before.counted))
            store.save_balance(part, balance)
            if verdict.fire:
                low.append(events.LowStockEvent(part, after, point, verdict.negative, uom=uom))
            # A kanban part is refilled by its cards, never by a reorder; low-stock still fires.
            # On order is never negative (stock.still_on_order): a part above its reorder
            # point after the transaction is above it with what is on order too, so its
            # quantity on order is asked only when a reorder can be due.
            if rules.kanban or point is None or after > point:
                continue
            on_order = store.on_order(part)  # before this transaction's new reorder
            suggested = reorder_quantity(policy, add(after, on_order))
            if suggested is not None:
                reorder_id = store.add_reorder(part, suggested, txn.at)
                reorders.append(
                    events.ReorderEvent(
                        reorder_id,
                        part,
                        quantity=suggested,
                        on_hand=after,
                        on_order=on_order,
                        reorder_point=point,
                        uom=uom,
                    )
                )
        event_id = self._emit(event, txn.at)
        store.set_transaction_event(txn.txn_id, event_id)
        for follow_up in [*(follow_ups or []), *low, *reorders]:
            self._emit(follow_up, txn.at)
        # Each touched part's retained message is due again; the relay renders it.
        for part in befores.keys() | txn.restate:
            store.restate_stock(part, wall)
        return event_id

    def _emit(self, event: events.Event, at: Moment) -> str:
        seq = self.store.next_seq()
        event_id = ids.event_id(at.wall)
        envelope = events.Envelope(
            event_id,
            occurred_at=rfc3339(at.wall),
            stream=self.store.stream(),
            seq=seq,
            boot=self.store.boot(),
            site=self.identity.site,
            node=self.identity.node,
        )
        self.store.add_event(seq, event_id, event.TYPE, payloads.render(envelope, event))
        return event_id
