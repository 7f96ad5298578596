"""Kanban two-bin beside backflush: a card scanned empty asks for a refill and reconciles use.

A kanban part's stock sits in containers, one card each. Scanning a card at
a ship, scrap, build or issue station says "this container is empty": the
card turns empty and a ``kanban-empty`` event asks for a refill. It also
says exactly one container was used since the part's previous empty card
(for the first, since its cards were loaded), which backflush alone never
knows: the backflush, scrap and issue recorded in between are compared with
the container's quantity. The difference is told, and with
``kanban_reconcile = "adjust"`` also posted (ledger kind ``kanban-adjust``),
so what was used without a transaction (a BOM short of a screw, a dropped
handful) leaves the book when the container runs out, not when the part
does. Refilling (a receive station, ``edge receive --card``) is a receipt
of one container (:meth:`edge.domain.inventory.Inventory.receive_card`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from edge.domain import events
from edge.domain.model import Card, CardState
from edge.domain.ports import KanbanMark, Moment
from edge.domain.posting import Origin, Posted, Posting, Rejection
from edge.domain.quantity import ZERO, sub
from edge.domain.timestamps import rfc3339
from edge.domain.usage import reconciliation

KANBAN_ADJUST: Final = "kanban-adjust"
"""The ledger kind of a reconciliation posted to stock."""


class KanbanCards(Posting):
    """Kanban card scans at production stations."""

    def card(self, code: str) -> Card:
        card = self.store.card(code)
        if card is None:
            raise Rejection("unknown-card", f"no kanban card {code!r}")
        return card

    def empty_card(self, code: str, at: Moment, origin: Origin = Origin()) -> Posted:
        """The card's container is empty: ask for a refill and reconcile the part's use."""
        card = self.card(code)
        if card.state is CardState.EMPTY:
            raise Rejection(
                "card-already-empty",
                f"card {card.card} is already empty (since {card.emptied_at}); "
                "scan it at a receive station when its container is refilled",
            )
        part = card.part
        item = self.stock_item(part)
        balance = self.store.balance(part)
        used_now = balance.used.total
        stamp = rfc3339(at.wall)
        mark = self.store.kanban_mark(part)
        start = mark if mark is not None else KanbanMark(ZERO, stamp)
        consumed = sub(used_now, start.used)
        difference = reconciliation(consumed, card.container_qty)
        adjust = self.policy.kanban_reconcile == "adjust" and difference != ZERO
        txn = self._begin("kanban-empty", at, origin, part=part, quantity=card.container_qty)
        if adjust:
            self._post(txn, part, difference, None, kind=KANBAN_ADJUST)
        self.store.save_card(replace(card, state=CardState.EMPTY, emptied_at=stamp), at)
        self.store.save_kanban_mark(part, KanbanMark(used_now, stamp))
        txn.restate.add(part)  # its cards changed, even when its stock did not
        on_hand = txn.on_hand.get(part, balance.on_hand)
        event = events.KanbanEmptyEvent(
            card=card.card,
            part=part,
            container_qty=card.container_qty,
            uom=item.uom,
            location=card.location,
            consumed=consumed,
            since=start.at,
            reconciliation=difference,
            adjusted=adjust,
            on_hand=on_hand,
            station=origin.station,
            scanner=origin.scanner,
            scan_id=origin.scan_id,
        )
        event_id = self._finish(txn, event)
        return Posted(txn.txn_id, event_id)
