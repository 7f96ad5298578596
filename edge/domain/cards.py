"""Kanban cards as master data: what a card may say, what an upsert keeps, when one is late.

A card id is a code of its own, scanned like a part number and spelled by
the part-number rules; no part and no alias may have it, and no card may
have a part's or an alias's code (the importer of items refuses the other
direction with :func:`code_is_a_card`). A card belongs to one stocked part
that is replenished by kanban, holds ``container_qty`` > 0 of it, and keeps
that part for life: a new container is a new card. An upsert of a card
that exists keeps its state (full or empty, and since when); a new card
is full.

The answers are :class:`~edge.domain.catalog.CatalogProblem` values naming
the cards.csv column at fault, as the catalog rules do.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from edge.domain.catalog import CatalogProblem
from edge.domain.model import Card, CardState, Item
from edge.domain.ports import KanbanMark
from edge.domain.quantity import ZERO
from edge.domain.timestamps import parse_rfc3339, rfc3339
from edge.domain.usage import Usage

CARD_KEEPS_PART = "a card keeps its part; give a new container a new card id"


_OWN_CODE = "a card id is a code of its own"


def card_code_problems(
    card: str, *, part_of_alias: str | None, is_part: bool
) -> list[CatalogProblem]:
    """What is wrong with ``card`` as a code of its own (it must not be a part or an alias)."""
    if is_part:
        return [CatalogProblem("card", f"{card!r} is a part number; {_OWN_CODE}")]
    if part_of_alias is not None:
        return [CatalogProblem("card", f"{card!r} is an alias of {part_of_alias!r}; {_OWN_CODE}")]
    return []


def code_is_a_card(code: str, field: str) -> CatalogProblem:
    """The refusal of an item or alias whose code is a card's id (the other direction)."""
    return CatalogProblem(field, f"{code!r} is the id of a kanban card; {_OWN_CODE}")


def card_part_problems(part: str, item: Item | None, *, stocked: bool) -> list[CatalogProblem]:
    """What is wrong with giving a card to ``part`` (its item, and whether it holds stock)."""
    if item is None:
        return [CatalogProblem("part", f"unknown part {part!r}: import it in items.csv first")]
    if not stocked:
        return [
            CatalogProblem(
                "part", f"{part!r} is a phantom assembly (it holds no stock), so it has no cards"
            )
        ]
    if not item.kanban:
        return [
            CatalogProblem(
                "part",
                f"{part!r} is replenished by reorders; set replenishment = kanban in items.csv "
                "to give it cards",
            )
        ]
    return []


def container_problems(container_qty: Decimal) -> list[CatalogProblem]:
    if container_qty <= ZERO:
        return [CatalogProblem("container_qty", "must be greater than 0")]
    return []


def upserted_card(given: Card, known: Card | None) -> Card | CatalogProblem:
    """The card an upsert leaves: ``given``'s quantity and location, ``known``'s state.

    Refused when it would move a known card to another part.
    """
    if known is None:
        return replace(given, state=CardState.FULL, emptied_at=None)
    if known.part != given.part:
        return CatalogProblem("part", f"card {given.card!r} is a card of {known.part!r}: "
                              f"{CARD_KEEPS_PART}")  # fmt: skip
    return replace(given, state=known.state, emptied_at=known.emptied_at)


def first_mark(used: Usage, at: datetime) -> KanbanMark:
    """Where a part's first reconciliation starts: its use so far, when its first card came."""
    return KanbanMark(used.total, rfc3339(at))


def empty_for(card: Card, now: datetime) -> timedelta | None:
    """How long the card has been empty (None when it is full)."""
    if card.state is not CardState.EMPTY or card.emptied_at is None:
        return None
    return max(now - parse_rfc3339(card.emptied_at), timedelta(0))


def is_late(card: Card, lead_time_days: int | None, now: datetime) -> bool:
    """Whether the card has been empty longer than its part's lead time (never without one)."""
    empty = empty_for(card, now)
    if empty is None or lead_time_days is None:
        return False
    return empty > timedelta(days=lead_time_days)
