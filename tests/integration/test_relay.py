"""The outbox relay against a real Mosquitto and a real SQLite file.

Events are made by the real core (receipts and counts through
``InventoryService``); the relay runs in a thread, or in a child process when
a test must kill -9 or SIGSTOP it. Every wait polls with a generous ceiling.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from typing import Any

import pytest

from edge.store import queries
from tests.broker import BrokerTls, ClientTls, Received, Subscriber, poll, subscribed
from tests.integration.conftest import PREFIX, Plant, needs_mosquitto

pytestmark = [pytest.mark.broker, needs_mosquitto]

STATUS = f"{PREFIX}/status"
EVENT_FIELDS = {"event_id", "type", "schema", "occurred_at", "seq", "boot", "site", "node"}


def _status(messages: list[Received], state: str) -> dict[str, Any] | None:
    for message in reversed(messages):
        if message.topic == STATUS:
            payload = message.json()
            return payload if payload["state"] == state else None
    return None


def _wait_status(subscriber: Subscriber, state: str, ceiling: float = 30) -> dict[str, Any]:
    return subscriber.wait_for(lambda m: _status(m, state), f"status {state}", ceiling)


def _by_seq(events: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    copies: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        copies.setdefault(event["seq"], []).append(event)
    return copies


def _assert_complete(plant: Plant, events: list[dict[str, Any]]) -> None:
    """Every outbox event arrived: seq 1..n without gaps after de-duplication by event_id."""
    unique = {event["event_id"]: event for event in events}
    seqs = sorted(event["seq"] for event in unique.values())
    assert seqs == list(range(1, plant.last_seq() + 1))
    stored = {row.event_id for row in plant.outbox()}
    assert set(unique) == stored


def test_events_status_and_stock_on_their_topics(make_broker, make_plant, relays) -> None:
    broker = make_broker()
    plant = make_plant(broker)
    with subscribed(broker, f"{PREFIX}/#") as subscriber:
        relay = relays(plant)
        online = _wait_status(subscriber, "online")
        assert online["boot"] == relay.boot
        assert online["site"] == "plant-1"
        assert online["node"] == "relay-test"
        assert {"version", "clock_synced", "backlog", "set_aside", "outbox_full"} <= set(online)

        plant.receive("BOLT-M6", "5")
        relay.relay.wake()
        plant.count("NUT-M6", "2.5")
        relay.relay.wake()
        events = subscriber.wait_for_seqs(plant.last_seq())
        subscriber.wait_for(
            lambda m: any(x.topic.endswith("/stock/NUT-M6") for x in m), "the NUT-M6 stock state"
        )

    receipt, count = events
    assert receipt["type"] == "receipt"
    assert EVENT_FIELDS <= set(receipt)
    assert (receipt["part"], receipt["quantity"], receipt["on_hand"]) == ("BOLT-M6", 5, 5)
    assert receipt["boot"] == relay.boot
    assert count["type"] == "count"
    assert (count["part"], str(count["counted"])) == ("NUT-M6", "2.5")
    # Committed while connected: published live, not flagged as replayed.
    assert "replayed" not in receipt
    assert "replayed" not in count
    event_messages = [m for m in subscriber.messages if "/event/" in m.topic]
    assert [m.topic for m in event_messages] == [f"{PREFIX}/event/receipt", f"{PREFIX}/event/count"]
    # The payload on the wire is the outbox text, byte for byte.
    assert [m.payload.decode() for m in event_messages] == [row.payload for row in plant.outbox()]
    stock = subscriber.last_json(f"{PREFIX}/stock/BOLT-M6")
    assert stock["part"] == "BOLT-M6"
    assert stock["on_hand"] == 5
    assert {"on_order", "reorder_point"} <= set(stock)

    poll(lambda: not plant.pending(), "every row marked published")
    poll(lambda: relay.state().pending == 0, "the relay to count no backlog")
    relay.stop()
    assert not relay.state().connected


def test_a_new_subscriber_gets_status_and_stock_but_no_old_events(
    make_broker, make_plant, relays
) -> None:
    broker = make_broker()
    plant = make_plant(broker)
    relay = relays(plant)
    relay.wait_connected()
    for part in ("BOLT-M6", "NUT-M6"):
        plant.receive(part, "3")
        relay.relay.wake()
    # Nobody subscribes yet: the broker answers 0x10 "no matching subscribers",
    # which is a success, so every row is marked published.
    poll(lambda: not plant.pending(), "every row marked published")
    poll(lambda: relay.state().stock_pending == 0, "every stock state acknowledged")

    with subscribed(broker, f"{PREFIX}/#", client_id="late-subscriber") as late:
        late.wait_for(
            lambda m: {x.topic for x in m}
            >= {STATUS, f"{PREFIX}/stock/BOLT-M6", f"{PREFIX}/stock/NUT-M6"},
            "retained status and stock",
        )
        messages = late.messages
    assert all(m.retain for m in messages)
    assert not [m for m in messages if "/event/" in m.topic]
    assert _status(messages, "online") is not None
    relay.stop()

    with subscribed(broker, STATUS, client_id="after-stop") as after:
        offline = after.wait_for(lambda m: _status(m, "offline"), "retained offline")
    assert offline["boot"] == relay.boot
