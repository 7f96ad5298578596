"""The retained ``stock/{part}`` message: a part's stock, and what explains it.

It is not an event: it is stated again after every change of the part (the
newest wins), so it carries what a dashboard shows beside the number: the
position, the last count and the use since, the average daily use over 14
days and the days of cover at that rate, and a kanban part's cards. Its
keys are a published contract, versioned with the events' schema
(:data:`edge.domain.events.EVENT_SCHEMA`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from edge.domain import exactjson
from edge.domain.events import EVENT_SCHEMA
from edge.domain.model import Card, CardState, Item
from edge.domain.ports import Balance
from edge.domain.quantity import add, format_quantity
from edge.domain.timestamps import rfc3339
from edge.domain.usage import average_daily, days_of_cover


def stock_payload(
    part: str,
    balance: Balance,
    on_order: Decimal,
    item: Item | None,
    at: datetime,
    *,
    cards: Sequence[Card] | None,
) -> dict[str, Any]:
    """The retained ``stock/{part}`` message: the part's stock, and what explains it.

    Position is on hand plus on order. The last count, the consumption since
    it, the average daily use over 14 days and the days of cover at that rate
    come from the balance's marks (:mod:`edge.domain.usage`); ``cards`` are a
    kanban part's (None for a part replenished by reorders).

    Not an event, and not a dataclass: it is written for every part a
    transaction touches (fifty for a typical backflush), and building a frozen
    instance first would cost a tenth of a scan's CPU.
    """
    on_hand = balance.on_hand
    average = average_daily(balance.daily, at.date())
    counted = balance.counted
    return {
        "schema": EVENT_SCHEMA,
        "part": part,
        "on_hand": on_hand,
        "on_order": on_order,
        "position": add(on_hand, on_order),
        "reorder_point": item.policy.reorder_point if item is not None else None,
        "uom": item.uom if item is not None else None,
        "replenishment": item.replenishment.value if item is not None else None,
        "last_counted_at": counted.at if counted is not None else None,
        "last_counted": counted.counted if counted is not None else None,
        "consumed_since_count": balance.consumed_since_count,
        "average_daily_use": average,
        "days_of_cover": days_of_cover(on_hand, average),
        "cards": None if cards is None else card_states(cards),
        "updated_at": rfc3339(at),  # RFC 3339 UTC
    }


@dataclass(frozen=True, slots=True)
class StockSnapshot:
    """A part's retained stock message, rendered only when it is written.

    A transaction states every part it touched, and a batch of scans states
    the same parts again and again; the store keeps the newest per part and
    renders that one (its payload is :func:`stock_payload`).
    """

    part: str
    balance: Balance
    on_order: Decimal
    item: Item | None
    at: datetime
    cards: tuple[Card, ...] | None  # a kanban part's, read with the rest

    def payload(self) -> dict[str, Any]:
        return stock_payload(self.part, self.balance, self.on_order, self.item, self.at,
                             cards=self.cards)  # fmt: skip

    def text(self) -> str:
        """The payload as JSON text, byte for byte ``exactjson.dumps(self.payload())``.

        Written straight to text: a 50-component backflush states 50 parts,
        and the general encoder walking each payload's fifteen keys was a
        fifth of the commit's CPU.
        """
        balance, item, counted = self.balance, self.item, self.balance.counted
        on_hand = balance.on_hand
        average = average_daily(balance.daily, self.at.date())
        cover = days_of_cover(on_hand, average)
        point = item.policy.reorder_point if item is not None else None
        cards = "null" if self.cards is None else exactjson.dumps(card_states(self.cards))
        return (
            f'{{"schema":"{EVENT_SCHEMA}","part":{_json_string(self.part)},'
            f'"on_hand":{format_quantity(on_hand)},"on_order":{format_quantity(self.on_order)},'
            f'"position":{format_quantity(add(on_hand, self.on_order))},'
            f'"reorder_point":{_number(point)},'
            f'"uom":{"null" if item is None else _json_string(item.uom)},'
            f'"replenishment":{"null" if item is None else _json_string(item.replenishment.value)},'
            f'"last_counted_at":{"null" if counted is None else _json_string(counted.at)},'
            f'"last_counted":{"null" if counted is None else format_quantity(counted.counted)},'
            f'"consumed_since_count":{format_quantity(balance.consumed_since_count)},'
            f'"average_daily_use":{format_quantity(average)},"days_of_cover":{_number(cover)},'
            f'"cards":{cards},"updated_at":"{rfc3339(self.at)}"}}'
        )


_json_string = json.encoder.encode_basestring  # what exactjson writes for a str


def _number(value: Decimal | None) -> str:
    return "null" if value is None else format_quantity(value)


def card_states(cards: Sequence[Card]) -> dict[str, list[str]]:
    """A kanban part's cards by state: ``{"full": [ids], "empty": [ids]}``."""
    return {
        state.value: [card.card for card in cards if card.state is state] for state in CardState
    }
