"""SPEC §12 "Size": payloads that fit the broker, and no message that blocks the queue.

A shipment of a 1,500-component BOM makes a backflush event of about 90 KB.
Against a real Mosquitto that takes less (``max_packet_size`` or
``message_size_limit`` 20000) or a small ``mqtt.max_payload_bytes``, it must
arrive in parts that reassemble (with :class:`edge.tail.consumer.EventTracker`)
into exactly the stored event, or be set aside when it cannot be split; the
small events behind it arrive either way.
"""

from __future__ import annotations

import csv
import logging
from decimal import Decimal
from typing import Any

import pytest

from edge.domain import exactjson
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.runtime.clock import SystemClock
from edge.store import queries
from edge.tail.consumer import EventTracker, Seen
from tests.broker import Subscriber, poll, subscribed
from tests.integration.conftest import PREFIX, Plant, needs_mosquitto
from tests.integration.test_relay import _edge

pytestmark = [pytest.mark.broker, needs_mosquitto]

COMPONENTS = 1500
BIG = "FG-BIG"
LIMIT = 20_000


def _big_bom(plant: Plant, components: int = COMPONENTS) -> None:
    """An assembly of ``components`` parts, imported from CSV files like `edge import`."""
    items = plant.directory / "big-items.csv"
    bom = plant.directory / "big-bom.csv"
    names = [f"RM-COMPONENT-{number:05d}" for number in range(components)]
    with items.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["part", "description", "uom", "stocked"])
        writer.writerow([BIG, "an assembly of many parts", "EA", "false"])
        writer.writerows([name, f"component {name}", "EA", "true"] for name in names)
    with bom.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["parent", "component", "qty_per", "scrap_pct"])
        writer.writerows([BIG, name, "1", "0"] for name in names)
    import_items(plant.service, items)
    import_bom(plant.service, bom)


def _ship(plant: Plant, part: str = BIG) -> None:
    at = SystemClock().moment()
    plant.service.transact(
        lambda inventory, _uow: inventory.consume("backflush", part, Decimal(1), at)
    )


def _reassembled(subscriber: Subscriber) -> dict[int, dict[str, Any]]:
    """Every event that arrived, parts put together, by seq (duplicates dropped)."""
    tracker = EventTracker()
    whole: dict[int, dict[str, Any]] = {}
    for event in subscriber.events():
        for seen in tracker.feed(event):
            if isinstance(seen, Seen):
                whole[seen.payload["seq"]] = seen.payload
    return whole


def _stored(plant: Plant) -> dict[int, dict[str, Any]]:
    return {row.seq: exactjson.loads(row.payload) for row in plant.outbox()}


def _without_replayed(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "replayed"}


def _big_seq(plant: Plant) -> int:
    [seq] = [row.seq for row in plant.outbox() if len(row.payload) > LIMIT]
    return seq


def _delivered_in_parts(plant: Plant, relay: Any, subscriber: Subscriber) -> list[dict[str, Any]]:
    """Ship the big BOM between two receipts; every event arrives, the big one in parts."""
    plant.receive("BOLT-M6", "1")
    _ship(plant)
    plant.receive("NUT-M6", "2")
    relay.relay.wake()
    last = plant.last_seq()

    def complete() -> dict[int, dict[str, Any]] | None:
        whole = _reassembled(subscriber)
        return whole if len(whole) >= last else None

    whole = poll(complete, "every event, the big one reassembled", ceiling=60)
    stored = _stored(plant)
    assert {seq: _without_replayed(event) for seq, event in whole.items()} == stored
    big = _big_seq(plant)
    parts = [e for e in subscriber.events() if e["seq"] == big]
    size = len(exactjson.dumps(stored[big]).encode())
    assert size > 3 * LIMIT
    assert len(parts) >= size // LIMIT + 1
    print(f"\n{COMPONENTS}-component backflush: {size:,} bytes in {len(parts)} parts")
    assert {p["part_field"] for p in parts} == {"lines"}
    assert sorted({p["part_index"] for p in parts}) == list(range(parts[0]["part_count"]))
    assert len(stored[big]["lines"]) == COMPONENTS
    poll(lambda: not plant.pending(), "every row marked published")
    assert relay.state().set_aside == 0
    return parts


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_big_shipment_in_parts_under_max_payload_bytes(
    make_broker, make_plant, relays, protocol
) -> None:
    broker = make_broker()
    plant = make_plant(broker, protocol=protocol, max_payload_bytes=LIMIT)
    _big_bom(plant)
    with subscribed(broker, f"{PREFIX}/event/#") as erp:
        relay = relays(plant)
        relay.wait_connected()
        parts = _delivered_in_parts(plant, relay, erp)
    assert all(len(exactjson.dumps(part).encode()) <= LIMIT for part in parts)


def test_a_big_shipment_in_parts_under_the_brokers_maximum_packet_size(
    make_broker, make_plant, relays
) -> None:
    broker = make_broker(extra=[f"max_packet_size {LIMIT}"])
    plant = make_plant(broker)  # no max_payload_bytes: the CONNACK tells the limit
    _big_bom(plant)
    with subscribed(broker, f"{PREFIX}/event/#") as erp:
        relay = relays(plant)
        relay.wait_connected()
        _delivered_in_parts(plant, relay, erp)
    assert broker.log_count("New client connected") == 2  # the relay never lost it


def test_mqtt_3_1_1_with_message_size_limit_and_the_same_max_payload_bytes(
    make_broker, make_plant, relays
) -> None:
    # MQTT 3.1.1 hears of no limit, and mosquitto answers a payload over
    # message_size_limit with a PUBACK and drops it: the config key must say it.
    broker = make_broker(extra=[f"message_size_limit {LIMIT}"])
    plant = make_plant(broker, protocol="3.1.1", max_payload_bytes=LIMIT)
    _big_bom(plant)
    with subscribed(broker, f"{PREFIX}/event/#") as erp:
        relay = relays(plant)
        relay.wait_connected()
        _delivered_in_parts(plant, relay, erp)


def test_an_unsplittable_event_is_set_aside_and_later_events_go_on(
    make_broker, make_plant, relays, caplog
) -> None:
    broker = make_broker()
    # A receipt (about 320 bytes) has no list to split; one of a part with a
    # 64-character number is 50 bytes longer. Their retained stock states fit.
    long_part = "P-" + "X" * 62
    plant = make_plant(broker, max_payload_bytes=340, parts=("BOLT-M6", "NUT-M6", long_part))
    with subscribed(broker, f"{PREFIX}/event/#") as erp:
        relay = relays(plant)
        relay.wait_connected()
        plant.receive("BOLT-M6", "1")  # seq 1
        plant.receive(long_part, "1")  # seq 2: no list, too large
        plant.receive("NUT-M6", "1")  # seq 3
        relay.relay.wake()
        poll(lambda: erp.seqs() >= {1, 3}, "the events around the big one")
        poll(lambda: relay.state().set_aside == 1, "one row set aside")
    assert 2 not in erp.seqs()
    [pending] = queries.events(plant.engine, pending=True)
    assert pending["seq"] == 2
    assert pending["set_aside"] is True
    assert "exceeds the limit of 340 bytes (mqtt.max_payload_bytes = 340)" in pending["last_error"]
    assert "cannot be split: it has no list to split" in pending["last_error"]
    assert "1 SET ASIDE" in relay.relay.status_line()
    assert queries.outbox_summary(plant.engine).set_aside == 1
    assert "1 of them set aside" in _edge(plant, "events", "--pending")
    warnings = [r for r in caplog.records if "cannot be split" in r.getMessage()]
    assert len(warnings) == 1  # logged once, retried quietly


@pytest.mark.parametrize("case", [("3.1.1", "max_packet_size"), ("5", "message_size_limit")])
def test_a_message_the_broker_drops_the_connection_on_is_set_aside(
    make_broker, make_plant, relays, caplog, case
) -> None:
    # Mosquitto 2.0 closes the connection on such a packet: on MQTT 3.1.1 the
    # CONNACK carries no limit, and message_size_limit is never announced.
    caplog.set_level(logging.INFO, logger="edge.publish.relay")
    protocol, setting = case
    broker = make_broker(extra=[f"{setting} {LIMIT}"])
    plant = make_plant(broker, protocol=protocol)
    _big_bom(plant)
    with subscribed(broker, f"{PREFIX}/event/#") as erp:
        relay = relays(plant)
        relay.wait_connected()
        plant.receive("BOLT-M6", "1")
        _ship(plant)
        plant.receive("NUT-M6", "2")
        relay.relay.wake()
        big = _big_seq(plant)
        poll(lambda: relay.state().set_aside == 1, "the big event set aside", ceiling=60)
        others = set(range(1, plant.last_seq() + 1)) - {big}
        poll(lambda: erp.seqs() >= others, "every other event", ceiling=60)
        poll(lambda: len(plant.pending()) == 1, "only the big event pending")
        [pending] = queries.events(plant.engine, pending=True)
        assert pending["seq"] == big
        assert "closed the connection each time" in pending["last_error"]
        assert queries.outbox_summary(plant.engine).set_aside == 1
        assert "1 SET ASIDE" in relay.relay.status_line()
    assert big not in erp.seqs()
    blamed = [r for r in caplog.records if "closed the connection each time" in r.getMessage()]
    assert len(blamed) == 1


def test_parts_sent_from_the_backlog_are_each_flagged_replayed(
    make_broker, make_plant, relays
) -> None:
    broker = make_broker()
    plant = make_plant(broker, max_payload_bytes=LIMIT)
    _big_bom(plant, components=600)
    _ship(plant)  # committed before the relay connects: sent from the backlog
    big = _big_seq(plant)
    with subscribed(broker, f"{PREFIX}/event/#") as erp:
        relay = relays(plant)
        poll(lambda: not plant.pending(), "every row marked published", ceiling=60)
        whole = _reassembled(erp)
    parts = [e for e in erp.events() if e["seq"] == big]
    assert len(parts) >= 2
    assert all(part["replayed"] is True for part in parts)
    assert whole[big] == {**_stored(plant)[big], "replayed": True}
    assert relay.state().set_aside == 0


def test_a_retained_state_too_large_is_set_aside_whole_and_events_go_on(
    make_broker, make_plant, relays, caplog
) -> None:
    broker = make_broker()
    plant = make_plant(broker, max_payload_bytes=1024)
    # The daemon adds its stations and scanners to the status: here too many for the limit.
    extra = {"scanners": [{"id": f"scanner-{n}", "state": "connected"} for n in range(40)]}
    with subscribed(broker, f"{PREFIX}/#") as erp:
        relay = relays(plant, status_extra=lambda: extra)
        relay.wait_connected()
        plant.receive("BOLT-M6", "1")
        relay.relay.wake()
        erp.wait_for_seqs(plant.last_seq())
        poll(lambda: erp.on(f"{PREFIX}/stock/BOLT-M6"), "the stock state")
    assert not erp.on(f"{PREFIX}/status")  # never split: not sent at all
    [warning] = [
        r.getMessage() for r in caplog.records if "status message refused" in r.getMessage()
    ]
    assert "exceeds the limit of 1,024 bytes (mqtt.max_payload_bytes = 1,024)" in warning
