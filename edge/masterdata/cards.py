"""cards.csv and ``cards.upsert``: kanban cards, added or updated by card id.

:func:`validate_cards` checks the rows against a snapshot of the catalog
outside the write lock (the rules are the domain's: edge/domain/cards.py);
:func:`write_cards` writes them with bulk statements in the apply
transaction. Cards are catalog: the change raises the catalog version, so
the store's "is this code a card" cache (edge/store/catalog.py) starts again.

A card's state (full or empty) is not: scans change it without raising the
catalog version, so the write never touches the state of a known card, and
a part's kanban mark (where its first reconciliation starts, at its use so
far) is read and written inside the apply transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from edge.domain.cards import (
    card_code_problems,
    card_part_problems,
    container_problems,
    first_mark,
    upserted_card,
)
from edge.domain.catalog import CatalogProblem, is_phantom
from edge.domain.inventory import Inventory
from edge.domain.model import Card
from edge.domain.quantity import to_storage
from edge.domain.timestamps import rfc3339
from edge.masterdata.fields import Rows
from edge.masterdata.summary import ImportSummary
from edge.masterdata.transaction import CsvImport, Plan
from edge.store import catalog_writes
from edge.store.unit_of_work import SqlUnitOfWork

CARD_COLUMNS = ("card", "part", "container_qty", "location")


@dataclass(frozen=True, slots=True)
class CardChange:
    cards: list[Card]  # as the upsert leaves them (a known card's state is kept)
    added: int

    def summary(self) -> ImportSummary:
        rows = len(self.cards)
        return ImportSummary(rows, added=self.added, updated=rows - self.added)


def validate_cards(rows: Rows, snapshot: Connection) -> CardChange:
    """The cards ``rows`` add or change, checked against ``snapshot``; errors go in ``rows``."""
    items = catalog_writes.all_items(snapshot)
    aliases = catalog_writes.alias_owners(snapshot)
    known = catalog_writes.all_cards(snapshot)
    parents = catalog_writes.bom_parents(snapshot)
    seen: dict[str, str] = {}
    cards: list[Card] = []
    for row in rows.rows:
        code = row.part("card")
        part = row.part("part")
        container_qty = row.quantity("container_qty", required=True)
        if container_qty is not None:
            row.report(container_problems(container_qty))
        if code is not None:
            if code in seen:
                row.error("card", f"{code!r} is listed again (first {seen[code]})")
                continue
            seen[code] = row.place
            row.report(card_code_problems(code, part_of_alias=aliases.get(code),
                                          is_part=code in items))  # fmt: skip
        if part is not None:
            item = items.get(part)
            holds_stock = item is not None and not is_phantom(has_bom=part in parents,
                                                               stocked=item.stocked)  # fmt: skip
            row.report(card_part_problems(part, item, stocked=holds_stock))
        if code is None or part is None or container_qty is None:
            continue
        given = Card(code, part, container_qty, row.text("location"))
        card = upserted_card(given, known.get(code))
        if isinstance(card, CatalogProblem):
            row.report([card])
            continue
        cards.append(card)
    added = sum(card.card not in known for card in cards)
    return CardChange(cards, added)


def write_cards(inventory: Inventory, uow: SqlUnitOfWork, change: CardChange) -> None:
    now = datetime.now(UTC)
    at = rfc3339(now)
    connection = uow.connection
    catalog_writes.upsert_cards(connection, [
        (card.card, card.part, to_storage(card.container_qty), card.location, at)
        for card in change.cards
    ])  # fmt: skip
    parts = list(dict.fromkeys(card.part for card in change.cards))
    new = catalog_writes.unmarked_parts(connection, parts)
    marks = [(part, first_mark(uow.balance(part).used, now)) for part in new]
    catalog_writes.add_kanban_marks(connection, [
        (part, to_storage(mark.used), mark.at) for part, mark in marks
    ])  # fmt: skip
    # A kanban part's retained stock message lists its cards: told again with them.
    for part in parts:
        uow.restate_stock(part, now)


CARDS: Plan[CardChange] = Plan(validate_cards, write_cards, changes_catalog=True)
upsert_cards = CARDS.apply  # the cards of CSV or JSON rows (cards.upsert), all or nothing
import_cards = CsvImport(CARDS, CARD_COLUMNS, ("card", "part", "container_qty"))
