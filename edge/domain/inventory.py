"""Stock transactions: ledger rows, balances, reorder policy and events.

Every change of stock goes through :class:`Inventory`. A transaction writes
its ledger rows, then runs the stock rules once per touched part on the net
change, then writes its events to the outbox in a fixed order: the
transaction's own event, then low-stock, then reorder events. The caller's
unit of work commits all of it together or none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Literal

from edge.domain import events
from edge.domain.bom import Explosion
from edge.domain.counting import Counting
from edge.domain.kanban import KanbanCards
from edge.domain.model import Card, CardState
from edge.domain.opening import PlannedOpening, opening_batches
from edge.domain.plan import PostingPlan, make_plan
from edge.domain.ports import VOIDABLE_KINDS, Moment
from edge.domain.posting import (
    Identity,
    Origin,
    Posted,
    Rejection,
    has_history,
    not_a_stock_item,
)
from edge.domain.quantity import ONE, ZERO, add, format_quantity, sub
from edge.domain.reasons import check_reason

__all__ = ["Identity", "Inventory", "Origin", "Posted", "Rejection", "has_history",
           "not_a_stock_item"]  # fmt: skip

MAX_REFERENCE_LENGTH = 64  # a reorder's reference from the central system (a PO number)


class Inventory(Counting, KanbanCards):
    """The inventory rules, applied through an :class:`InventoryStore`.

    Counts and their variance are in :mod:`edge.domain.counting`, kanban card
    scans in :mod:`edge.domain.kanban`.
    """

    # --- transactions --------------------------------------------------------
    def consume(
        self,
        kind: Literal["backflush", "scrap"],
        part: str,
        quantity: Decimal,
        at: Moment,
        origin: Origin = Origin(),
        *,
        reason: str | None = None,
    ) -> Posted:
        """Backflush (``kind`` "backflush") or scrap a part: issue what it consumes."""
        explosion = self.store.bom_graph().consumption(part)
        return self._issue(
            kind, part, quantity, explosion=explosion, at=at, origin=origin, reason=reason
        )

    def issue(
        self,
        part: str,
        quantity: Decimal,
        at: Moment,
        origin: Origin = Origin(),
        *,
        reason: str,
        allowed: tuple[str, ...] | None = None,
    ) -> Posted:
        """Issue a part to a use that ships nothing (engineering, test, kaizen), with its reason.

        The part leaves stock as a shipment or a scrap would take it: a phantom
        exploded to its components, a stocked assembly or a part without BOM
        itself. ``allowed`` is the issue station's ``issue_reasons``.
        """
        checked = check_reason(reason, allowed, purpose="issue")
        if self.store.item(part) is None:
            raise not_a_stock_item(part, known=False)
        if quantity <= ZERO:
            raise Rejection("bad-quantity", "an issue quantity must be greater than zero")
        explosion = self.store.bom_graph().consumption(part)
        return self._issue(
            "issue", part, quantity, explosion=explosion, at=at, origin=origin, reason=checked
        )

    def build(
        self,
        part: str,
        quantity: Decimal,
        at: Moment,
        origin: Origin = Origin(),
    ) -> Posted:
        """Receive a built, stocked assembly and backflush its own BOM."""
        graph = self.store.bom_graph()
        if not graph.has_bom(part) or not graph.is_stocked(part):
            raise Rejection(
                "not-buildable",
                f"{part!r} cannot be built into stock: only an item with a BOM and "
                "stocked = true can",
            )
        if quantity <= ZERO:
            raise Rejection("bad-quantity", "a build quantity must be greater than zero")
        explosion = graph.components(part)
        return self._issue(
            "build", part, quantity, explosion=explosion, at=at, origin=origin, receive=True
        )

    def _issue(
        self,
        kind: Literal["backflush", "scrap", "build", "issue"],
        part: str,
        quantity: Decimal,
        *,
        explosion: Explosion,
        at: Moment,
        origin: Origin,
        reason: str | None = None,
        receive: bool = False,
    ) -> Posted:
        self.store.store_structure(explosion.bom_hash, explosion.lines)
        txn = self._begin(
            kind,
            at,
            origin,
            part=part,
            quantity=quantity,
            bom_hash=explosion.bom_hash,
            reason=reason,
        )
        if receive:
            self._post(txn, part, quantity, None)
        plan = self._plan(part, quantity, explosion)
        self._post_rows(txn, plan.ledger, explosion.bom_hash, kind)
        txn.rules = plan.rules
        where = (origin.station, origin.scanner, origin.scan_id)
        shared = (part, quantity, plan.uom, plan.uom_lines, explosion.bom_hash, *where)
        event: events.BomEvent
        if kind == "scrap":
            event = events.ScrapEvent(*shared, reason=reason)
        elif kind == "build":
            event = events.BuildEvent(*shared)
        elif kind == "issue":
            event = events.IssueEvent(*shared, reason=reason or "")
        else:
            event = events.BackflushEvent(*shared)
        event_id = self._finish(txn, event)
        return Posted(txn.txn_id, event_id, plan.lines)

    def _plan(self, part: str, quantity: Decimal, explosion: Explosion) -> PostingPlan:
        """What issuing ``quantity`` of ``part`` by ``explosion`` posts; one unit's is kept."""
        if quantity is ONE:  # see Explosion.for_quantity
            return self.store.bom_graph().plan(
                part, explosion.bom_hash, lambda: make_plan(part, explosion.lines, self.part_rules)
            )
        return make_plan(part, explosion.for_quantity(quantity), self.part_rules)

    def void(self, station: str, at: Moment, origin: Origin, *, window_s: float) -> Posted:
        """Reverse the newest backflush, scrap, build or issue at the station, exactly."""
        original = self.store.newest_voidable(station)
        if original is None:
            raise Rejection("nothing-to-void", f"nothing to void at station {station}")
        if original.kind not in VOIDABLE_KINDS:
            raise Rejection(
                "card-scan-not-voided",
                f"the last scan at station {station} was a kanban card of {original.part}; "
                "VOID does not undo a card scan (the card stays empty until it is refilled)",
            )
        if original.voided_by is not None:
            raise Rejection(
                "already-voided",
                f"the last transaction at station {station} is already voided; "
                "VOID never steps further back",
            )
        elapsed = at.seconds_since(original.at)
        if elapsed is None or elapsed > window_s:
            raise Rejection(
                "void-window-expired",
                f"the last transaction at station {station} is older than the "
                f"{window_s:g} s void window",
            )
        rows = self.store.ledger_rows(original.id)
        txn = self._begin("void", at, origin, part=original.part, quantity=original.quantity,
                          reverses=(original.kind, original.part))  # fmt: skip
        reversal = tuple((part, -quantity) for part, quantity in rows)
        for part, quantity in reversal:
            self._post(txn, part, quantity, None)
        self.store.mark_voided(original.id, txn.txn_id)
        self.store.free_serials(original.id)
        event = events.VoidEvent(
            voided_event_id=original.event_id,
            voided_type=original.kind,
            part=original.part,
            quantity=original.quantity,
            uom=self.uom(original.part),
            lines=self.with_uoms(reversal),
            station=origin.station,
            scanner=origin.scanner,
            scan_id=origin.scan_id,
        )
        event_id = self._finish(txn, event)
        return Posted(txn.txn_id, event_id, reversal)

    def receive(
        self,
        part: str,
        quantity: Decimal,
        at: Moment,
        *,
        reorder_id: int | None = None,
        card: Card | None = None,
        origin: Origin = Origin(),
    ) -> Posted:
        """Add received goods to stock, counting them against open reorders.

        ``card``: the kanban card whose container this is (see :meth:`receive_card`).
        """
        item = self.stock_item(part)
        if quantity <= ZERO:
            raise Rejection("bad-quantity", "a receipt quantity must be greater than zero")
        if reorder_id is not None:
            target = self.store.reorder(reorder_id)
            if target is None or target.part != part:
                raise Rejection("unknown-reorder", f"no reorder {reorder_id} for part {part!r}")
            if not target.open:
                raise Rejection("reorder-closed", f"reorder {reorder_id} is already closed")
            allocations = [(target, quantity)]
        else:
            allocations = []
            remaining = quantity
            for reorder in self.store.open_reorders(part):
                if remaining <= ZERO:
                    break
                share = min(remaining, reorder.outstanding)
                allocations.append((reorder, share))
                remaining = sub(remaining, share)
        txn = self._begin("receipt", at, origin, part=part, quantity=quantity)
        self._post(txn, part, quantity, None)
        if card is not None:
            self.store.save_card(replace(card, state=CardState.FULL, emptied_at=None), at)
        closed: list[events.Event] = []
        for reorder, share in allocations:
            received = add(reorder.received, share)
            done = received >= reorder.ordered
            self.store.update_reorder(
                reorder.id, received=received, close_reason="received" if done else None, at=at
            )
            if done:
                closed.append(events.ReorderClosedEvent(reorder.id, part, "received"))
        txn.restate.add(part)
        receipt = events.ReceiptEvent(
            part=part,
            quantity=quantity,
            uom=item.uom,
            reorder_id=reorder_id
            if reorder_id is not None
            else (allocations[0][0].id if len(allocations) == 1 else None),
            reorder_ids=tuple(reorder.id for reorder, _ in allocations),
            on_hand=txn.on_hand[part],
            on_order=self.on_order(part),
            card=card.card if card is not None else None,
        )
        event_id = self._finish(txn, receipt, closed)
        return Posted(txn.txn_id, event_id)

    def receive_card(
        self,
        code: str,
        at: Moment,
        origin: Origin = Origin(),
        *,
        expected: tuple[str, Decimal] | None = None,
    ) -> Posted:
        """Refill a kanban card's container: receive its quantity and turn the card full.

        ``expected``: the part and quantity a sender named with the card (a
        ``stock.receive`` command), which must be the card's: a refill is one
        container, of its own part.
        """
        card = self.card(code)
        if expected is not None and expected != (card.part, card.container_qty):
            raise Rejection(
                "not-the-cards",
                f"card {card.card} is a container of {format_quantity(card.container_qty)} x "
                f"{card.part}; a refill receives exactly that",
            )
        if card.state is CardState.FULL:
            raise Rejection(
                "card-already-full",
                f"card {card.card} is full; scan it at a production station when its "
                "container is empty",
            )
        return self.receive(card.part, card.container_qty, at, card=card, origin=origin)

    def opening(self, part: str, quantity: Decimal, at: Moment) -> Posted | None:
        """Post an opening balance; only for a part with no ledger rows yet."""
        item = self.stock_item(part)
        if self.store.has_ledger_rows(part):
            raise has_history(part)
        txn = self._begin("opening", at, Origin(), part=part, quantity=quantity)
        self._post(txn, part, quantity, None)
        event = events.CountEvent(
            part, counted=quantity, previous_on_hand=ZERO, variance=quantity, uom=item.uom,
            opening=True,
        )  # fmt: skip
        event_id = self._finish(txn, event)
        return Posted(txn.txn_id, event_id)

    def open_stock(self, planned: Sequence[PlannedOpening], at: Moment) -> list[str]:
        """Post many opening balances: ledger rows and a balance per part, told in batches.

        Every part must be a stock item without ledger rows; the caller checks
        that for all of them at once (:meth:`opening` asks one part at a time)
        and ran the rules ahead (:func:`~edge.domain.opening.plan_openings`).
        Each batch is one transaction row and one ``opening-balances`` event,
        followed by its parts' low-stock and reorder events. The parts'
        retained stock messages are the caller's to restate, in one statement
        for all of them. The event ids, in order.
        """
        batches = opening_batches(planned)
        event_ids: list[str] = []
        for number, batch in enumerate(batches, start=1):
            txn = self._begin("opening", at, Origin())
            reorders: list[events.Event] = []
            for entry in batch:
                part, on_hand = entry.opening.part, entry.opening.on_hand
                self.store.append_ledger(txn.txn_id, part, on_hand, "opening", bom_hash=None,
                                         scan_id=None)  # fmt: skip
                self.store.save_balance(part, entry.balance)
                if entry.reorder is not None:
                    reorder_id = self.store.add_reorder(part, entry.reorder, at)
                    reorders.append(events.ReorderEvent(
                        reorder_id, part, quantity=entry.reorder, on_hand=on_hand,
                        on_order=entry.opening.on_order,
                        reorder_point=entry.opening.item.policy.reorder_point,
                        uom=entry.opening.item.uom,
                    ))  # fmt: skip
            balances = tuple((e.opening.part, e.opening.on_hand, e.opening.item.uom) for e in batch)
            event_id = self._emit(events.OpeningBalancesEvent(number, len(batches), balances), at)
            self.store.set_transaction_event(txn.txn_id, event_id)
            for follow_up in [*(e.low for e in batch if e.low is not None), *reorders]:
                self._emit(follow_up, at)
            event_ids.append(event_id)
        return event_ids

    def cancel_reorder(self, reorder_id: int, at: Moment) -> str:
        reorder = self.store.reorder(reorder_id)
        if reorder is None:
            raise Rejection("unknown-reorder", f"no reorder {reorder_id}")
        if not reorder.open:
            raise Rejection("reorder-closed", f"reorder {reorder_id} is already closed")
        self.store.update_reorder(
            reorder_id, received=reorder.received, close_reason="cancelled", at=at
        )
        event_id = self._emit(events.ReorderClosedEvent(reorder_id, reorder.part, "cancelled"), at)
        self.store.restate_stock(reorder.part, at.wall)
        return event_id

    def acknowledge_reorder(self, reorder_id: int, reference: str, at: Moment) -> None:
        """Keep the central system's reference (a purchase order number) on an open reorder."""
        reorder = self.store.reorder(reorder_id)
        if reorder is None:
            raise Rejection("unknown-reorder", f"no reorder {reorder_id}")
        if not reorder.open:
            raise Rejection("reorder-closed", f"reorder {reorder_id} is already closed")
        shown = reference.strip()
        if not shown or len(shown) > MAX_REFERENCE_LENGTH or not shown.isprintable():
            raise Rejection(
                "bad-reference",
                f"a reference is 1 to {MAX_REFERENCE_LENGTH} printable characters",
            )
        self.store.set_reorder_reference(reorder_id, shown, at)

    def record(self, event: events.Event, at: Moment) -> str:
        """Write an event that comes with no stock change of its own (a command's answer)."""
        return self._emit(event, at)

    def reject_scan(
        self, scan_id: int, code: str, reason: str, at: Moment, origin: Origin = Origin()
    ) -> str:
        """Tell central systems of a rejected scan, with the station and scanner it came from."""
        event = events.ScanRejectedEvent(scan_id, code, reason, origin.station, origin.scanner)
        return self._emit(event, at)
