"""Balances, the ledger, reorders and stock snapshots of the store.

The unit of work (unit_of_work.py) inherits these methods. A balance and a
part's quantity on order are read once and kept (kept.py); what a transaction
changes of balances stays in its overlay and is written at commit, the newest
per part ("latest wins"): a batch of forty scans touching the same parts
writes each balance once. Ledger rows wait with the other pending rows
(pending.py). Reorders and the quantity on order are written straight
through: they change rarely, and a reorder's id is SQLite's.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from decimal import Decimal

from edge.domain import stock
from edge.domain.model import Card, Reorder
from edge.domain.ports import Balance, KanbanMark, Moment
from edge.domain.quantity import ZERO, add, from_storage, to_storage, total
from edge.domain.timestamps import rfc3339
from edge.domain.usage import CountRecord, Usage, usage_of_rows
from edge.store.catalog import Catalog
from edge.store.repositories import OpenTransaction
from edge.store.rows import balance_from_row, card_from_row, count_values, reorder_from_row
from edge.store.statements import (
    ADD_COUNT,
    ADD_REORDER,
    BALANCE,
    CARD,
    CARDS_OF,
    CLOSE_REORDER,
    HAS_BALANCE,
    KANBAN_MARK,
    LEDGER_ROWS,
    MOVED_SINCE,
    ON_ORDER,
    OPEN_REORDERS,
    RECEIVE_REORDER,
    REFERENCE_REORDER,
    REORDER,
    SAVE_CARD_STATE,
    SAVE_KANBAN_MARK,
    SAVE_ON_ORDER,
    USAGE_SINCE,
)


class StockStore(OpenTransaction):
    """What a transaction reads and writes of stock."""

    @property
    @abstractmethod
    def catalog(self) -> Catalog:
        """The catalog of this transaction's version (the unit of work's)."""

    # Open reorders as read in this transaction (a receipt allocates over them).
    _reorder_lists: dict[str, list[Reorder]]

    def balance(self, part: str) -> Balance:
        balance = self._overlay.balances.get(part) or self._kept.balances.get(part)
        if balance is None:
            # Not changed in this transaction: what the database holds is committed.
            row = self._sql(BALANCE, (part,)).fetchone()
            balance = Balance(ZERO) if row is None else balance_from_row(tuple(row))
            self._kept.balances.put(part, balance)
        return balance

    def save_balance(self, part: str, balance: Balance) -> None:
        self._overlay.balances[part] = balance
        self._overlay.unsaved_balances.add(part)

    def has_ledger_rows(self, part: str) -> bool:
        # Every posting saves the part's balance, so a balance row (stored, or
        # saved in this transaction) exists exactly when the part has ledger rows.
        # Its primary key answers without an index on the ledger's part column.
        if part in self._overlay.balances:
            return True
        return self._sql(HAS_BALANCE, (part,)).fetchone() is not None

    def moved_since(self, part: str, since: datetime) -> Decimal:
        self._flush()
        rows = self._sql(MOVED_SINCE, (part, rfc3339(since))).fetchall()
        return total(from_storage(quantity) for (quantity,) in rows)

    def usage_since(self, part: str, since: datetime) -> Usage:
        self._flush()
        rows = self._sql(USAGE_SINCE, (part, rfc3339(since))).fetchall()
        return usage_of_rows(part, ((from_storage(q), *rest) for q, *rest in rows))

    def add_count(self, txn_id: int, record: CountRecord) -> None:
        self._flush()  # its transaction row first (the foreign key)
        self._sql(ADD_COUNT, count_values(txn_id, record))

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
        self._rows.ledger.append((txn_id, part, to_storage(quantity), kind, scan_id, bom_hash))

    def ledger_rows(self, txn_id: int) -> list[tuple[str, Decimal]]:
        self._flush()
        rows = self._sql(LEDGER_ROWS, (txn_id,)).fetchall()
        return [(part, from_storage(quantity)) for part, quantity in rows]

    # --- reorders ------------------------------------------------------------
    def on_order(self, part: str) -> Decimal:
        # Kept per part in its own table, not summed from the part's reorders
        # at every scan: a part scrapped again and again without a receipt
        # piles up open reorders (migration 0006).
        quantity = self._overlay.on_order.get(part)
        if quantity is None:  # not `or`: a quantity of zero is false
            quantity = self._kept.on_order.get(part)
        if quantity is None:
            row = self._sql(ON_ORDER, (part,)).fetchone()
            quantity = ZERO if row is None else from_storage(row[0])
            self._kept.on_order.put(part, quantity)
        return quantity

    def _save_on_order(self, part: str, quantity: Decimal) -> None:
        self._sql(SAVE_ON_ORDER, (part, to_storage(quantity)))
        self._overlay.on_order[part] = quantity

    def open_reorders(self, part: str) -> list[Reorder]:
        listed = self._reorder_lists.get(part)
        if listed is None:
            rows = self._sql(OPEN_REORDERS, (part,)).fetchall()
            listed = self._reorder_lists[part] = [reorder_from_row(row) for row in rows]
        return list(listed)

    def reorder(self, reorder_id: int) -> Reorder | None:
        row = self._sql(REORDER, (reorder_id,)).fetchone()
        return None if row is None else reorder_from_row(row)

    def add_reorder(self, part: str, quantity: Decimal, at: Moment) -> int:
        before = self.on_order(part)
        self._reorder_lists.pop(part, None)
        row_id = self._sql(ADD_REORDER, (part, to_storage(quantity), rfc3339(at.wall))).lastrowid
        if row_id is None:
            raise RuntimeError("the reorder insert reported no row id")
        self._save_on_order(part, add(before, quantity))
        return row_id

    def update_reorder(
        self, reorder_id: int, *, received: Decimal, close_reason: str | None, at: Moment
    ) -> None:
        target = self.reorder(reorder_id)
        if target is None:
            raise LookupError(f"no reorder {reorder_id}")
        if close_reason is None:
            self._sql(RECEIVE_REORDER, (to_storage(received), reorder_id))
        else:
            closed_at = rfc3339(at.wall)
            self._sql(CLOSE_REORDER, (to_storage(received), False, close_reason, closed_at,
                                      reorder_id))  # fmt: skip
        part = target.part
        self._reorder_lists.pop(part, None)
        # Receipts and cancellations are rare: the part's open reorders summed again.
        self._save_on_order(part, stock.on_order(self.open_reorders(part)))

    def set_reorder_reference(self, reorder_id: int, reference: str, at: Moment) -> None:
        self._sql(REFERENCE_REORDER, (reference, rfc3339(at.wall), reorder_id))

    # --- kanban cards: read and written straight through (a card scan is rare) ----
    def card(self, code: str) -> Card | None:
        if not self.catalog.is_card(code):
            return None
        row = self._sql(CARD, (code,)).fetchone()
        return None if row is None else card_from_row(tuple(row))

    def cards_of(self, part: str) -> list[Card]:
        return [card_from_row(tuple(row)) for row in self._sql(CARDS_OF, (part,)).fetchall()]

    def save_card(self, card: Card, at: Moment) -> None:
        self._sql(SAVE_CARD_STATE, (card.state.value, card.emptied_at, rfc3339(at.wall), card.card))

    def kanban_mark(self, part: str) -> KanbanMark | None:
        row = self._sql(KANBAN_MARK, (part,)).fetchone()
        return None if row is None else KanbanMark(from_storage(row[0]), row[1])

    def save_kanban_mark(self, part: str, mark: KanbanMark) -> None:
        self._sql(SAVE_KANBAN_MARK, (part, to_storage(mark.used), mark.at))

    # --- the retained stock state --------------------------------------------
    def restate_stock(self, part: str, at: datetime) -> None:
        self._overlay.restated[part] = at
