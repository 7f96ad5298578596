"""The published JSON Schemas: valid documents, and true of the payloads the node writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from edge.contract.schemas import published_schemas
from edge.domain import events, exactjson, payloads, stock_message
from edge.domain.events import EVENT_TYPES
from edge.domain.model import Card, Item, ReorderPolicy
from edge.domain.ports import Balance
from edge.domain.usage import LastCount, Usage
from edge.publish.status import status_payload
from tests.contract import check_published
from tests.unit.test_events import ENVELOPE, OPENING, SAMPLES

PREFIX = "backflush/plant-1/pack-edge-01"


def wire(payload: dict[str, Any]) -> Any:
    """What a consumer parses from the published text."""
    return exactjson.loads(exactjson.dumps(payload))


@pytest.mark.parametrize("name", list(published_schemas()))
def test_every_schema_is_a_valid_draft_2020_12_document(name: str) -> None:
    Draft202012Validator.check_schema(published_schemas()[name])


def test_there_is_a_schema_for_every_event_type() -> None:
    names = set(published_schemas())
    assert {f"event/{name}" for name in EVENT_TYPES} <= names
    assert {"stock", "status"} <= names


@pytest.mark.parametrize(("event", "keys"), SAMPLES, ids=[e.TYPE for e, _ in SAMPLES])
def test_each_event_payload_follows_its_schema(event: events.Event, keys: tuple[str, ...]) -> None:
    payload = wire(payloads.render(ENVELOPE, event))
    check_published(f"{PREFIX}/event/{event.TYPE}", payload)
    required = published_schemas()[f"event/{event.TYPE}"]["required"]
    assert tuple(required[-len(keys) :]) == keys  # the event's own fields, in payload order


def test_a_sparse_field_is_optional_and_a_replayed_send_still_follows() -> None:
    check_published(f"{PREFIX}/event/count", wire(payloads.render(ENVELOPE, OPENING)))
    plain = payloads.render(ENVELOPE, SAMPLES[5][0])
    assert "opening" not in plain
    check_published(f"{PREFIX}/event/count", wire(plain))
    text = payloads.mark_replayed(exactjson.dumps(plain))
    check_published(f"{PREFIX}/event/count", exactjson.loads(text))


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"surprise": 1}, "Additional properties"),
        ({"seq": "17"}, "is not of type 'integer'"),
        ({"quantity": "41"}, "is not of type 'number'"),
        ({"type": "scrap"}, "was expected"),
        ({"event_id": "not-a-uuid"}, "is not a 'uuid'"),
    ],
)
def test_a_payload_that_differs_from_the_contract_is_refused(
    change: dict[str, Any], complaint: str
) -> None:
    payload = {**wire(payloads.render(ENVELOPE, SAMPLES[0][0])), **change}
    with pytest.raises(AssertionError, match=complaint):
        check_published(f"{PREFIX}/event/backflush", payload)
    missing = wire(payloads.render(ENVELOPE, SAMPLES[0][0]))
    del missing["bom_hash"]
    with pytest.raises(AssertionError, match="'bom_hash' is a required property"):
        check_published(f"{PREFIX}/event/backflush", missing)


def test_stock_and_status_payloads_follow_their_schemas() -> None:
    item = Item("R-GASKET", uom="EA", policy=ReorderPolicy(reorder_point=Decimal(5)))
    at = datetime(2026, 3, 2, 6, tzinfo=UTC)
    counted = LastCount("2026-03-01T07:00:00.000Z", Decimal(5), Usage())
    balance = Balance(Decimal("4.5"), daily=(("2026-03-02", Decimal(7)),), counted=counted)
    stock = stock_message.stock_payload("R-GASKET", balance, Decimal(0), item, at, cards=None)
    check_published(f"{PREFIX}/stock/R-GASKET", wire(stock))
    kanban = stock_message.stock_payload("R-GASKET", balance, Decimal(0), item, at,
                                  cards=[Card("KB-1", "R-GASKET", Decimal(9))])  # fmt: skip
    check_published(f"{PREFIX}/stock/R-GASKET", wire(kanban))
    unknown = stock_message.stock_payload(
        "R-?", Balance(Decimal(1)), Decimal(0), None, at, cards=None
    )
    check_published(f"{PREFIX}/stock/R-%3F", wire(unknown))
    status = status_payload("offline", boot=3, version="1.0", site="plant-1", node="pack",
                            at=datetime.now(UTC), synced=None, backlog=None, outbox_full=False,
                            extra={"reason": "shutdown"})  # fmt: skip
    check_published(f"{PREFIX}/status", wire(status))
