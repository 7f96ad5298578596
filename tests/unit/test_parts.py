"""edge.publish.parts: the exact size of a PUBLISH, and events split into parts that fit."""

from __future__ import annotations

import itertools
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes

from edge.domain import exactjson
from edge.domain.payloads import mark_replayed
from edge.publish.connection import json_properties
from edge.publish.parts import (
    PayloadLimit,
    Unsplittable,
    publish_size,
    split_event,
    varint_size,
)
from edge.publish.session import REPLAYED_SIZE
from edge.tail.consumer import EventTracker, Seen

TOPIC = "backflush/plant-1/line-3/event/backflush"


def _event(count: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": "01a23697-995a-7f68-a655-07a930875bd6",
        "type": "backflush",
        "seq": 41,
        "part": "FG-BIG",
        "lines": [{"part": f"RM-{n:05d}", "quantity": 1} for n in range(count)],
        "station": "PACK-1",
        **extra,
    }


@pytest.mark.parametrize(("value", "size"), [(0, 1), (127, 1), (128, 2), (16383, 2),
                                             (16384, 3), (2097152, 4), (268435455, 4)])  # fmt: skip
def test_varint_sizes(value: int, size: int) -> None:
    assert varint_size(value) == size


@pytest.mark.parametrize("protocol", [MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311])
@pytest.mark.parametrize("payload_size", [0, 10, 100, 16_000, 20_000, 2_100_000])
def test_publish_size_is_what_paho_writes(protocol: MQTTProtocolVersion, payload_size: int) -> None:
    # paho builds the packet without a socket; its length is the bytes on the wire.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
    properties = json_properties(PacketTypes.PUBLISH) if protocol == 5 else None
    written: list[bytes] = []
    client._sock = object()  # type: ignore[assignment]  # past the "not connected" check
    client._packet_queue = lambda _t, packet, *_a: written.append(bytes(packet))  # type: ignore[method-assign]
    try:
        client._send_publish(7, TOPIC.encode(), b"x" * payload_size, 1, properties=properties)
    finally:
        client._sock = None
    packed = None if properties is None else len(properties.pack())
    assert publish_size(TOPIC, payload_size, packed) == len(written[0])


@pytest.mark.parametrize("max_packet", [100, 127 + 60, 20_000, 16_384 + 50, 2_097_152 + 3])
def test_the_payload_limit_fills_the_packet_exactly(max_packet: int) -> None:
    properties = len(json_properties(PacketTypes.PUBLISH).pack())
    limit = PayloadLimit(268_435_455, max_packet, properties)
    payload = limit.for_topic(TOPIC)
    assert publish_size(TOPIC, payload, properties) <= max_packet
    assert publish_size(TOPIC, payload + 1, properties) > max_packet
    assert "Maximum Packet Size" in limit.source(TOPIC)


def test_the_smaller_limit_binds() -> None:
    assert PayloadLimit(1000, None, None).for_topic(TOPIC) == 1000
    assert PayloadLimit(1000, 20_000, 22).for_topic(TOPIC) == 1000
    assert PayloadLimit(1000, 20_000, 22).source(TOPIC) == "mqtt.max_payload_bytes = 1,000"


def test_a_payload_that_fits_is_sent_as_it_is() -> None:
    text = exactjson.dumps(_event(3))
    assert split_event(text, 10_000) == [text]


@pytest.mark.parametrize("limit", [400, 1000, 5_000])
@pytest.mark.parametrize("replayed", [False, True])
def test_parts_fit_and_reassemble_into_the_event(limit: int, replayed: bool) -> None:
    event = _event(300)
    text = exactjson.dumps(event)
    reserve = REPLAYED_SIZE if replayed else 0
    parts = split_event(text, limit, reserve=reserve)
    assert isinstance(parts, list)
    assert len(parts) >= 2
    sent = [mark_replayed(part) if replayed else part for part in parts]
    assert all(len(part.encode()) <= limit for part in sent)
    loaded = [exactjson.loads(part) for part in sent]
    assert [part["part_index"] for part in loaded] == list(range(len(parts)))
    assert {part["part_count"] for part in loaded} == {len(parts)}
    assert {part["part_field"] for part in loaded} == {"lines"}
    # Greedy: every part but the last would overflow with the next element.
    for part, following in itertools.pairwise(loaded):
        part["lines"].append(following["lines"][0])
        grown = exactjson.dumps(part)
        assert len((mark_replayed(grown) if replayed else grown).encode()) > limit
    seen = [o for part in reversed(sent) for o in EventTracker().feed(exactjson.loads(part))]
    assert not seen  # one tracker per part: none alone is the event
    tracker = EventTracker()
    found = [o for part in reversed(sent) for o in tracker.feed(exactjson.loads(part))]
    [whole] = [o.payload for o in found if isinstance(o, Seen)]
    expected = {**event, "replayed": True} if replayed else event
    assert whole == expected


def test_the_largest_list_is_split() -> None:
    event = _event(200, errors=[{"row": 1, "message": "x"}])
    [first, *_rest] = split_event(exactjson.dumps(event), 2_000)  # type: ignore[misc]
    part = exactjson.loads(first)
    assert isinstance(part, dict)
    assert part["part_field"] == "lines"
    assert part["errors"] == event["errors"]  # the other list goes whole in every part


def test_non_ascii_is_counted_in_bytes() -> None:
    event = _event(0, lines=[{"part": "Überzug-ß ÄÖ 部品", "quantity": 1}] * 100)
    parts = split_event(exactjson.dumps(event), 800)
    assert isinstance(parts, list)
    assert all(len(part.encode()) <= 800 for part in parts)


def test_what_cannot_be_split_says_why() -> None:
    no_list = exactjson.dumps({"event_id": "e", "type": "receipt", "part": "X" * 500})
    assert split_event(no_list, 300) == Unsplittable("it has no list to split")
    huge = exactjson.dumps(_event(0, lines=[{"part": "Y" * 900}, {"part": "Z"}]))
    found = split_event(huge, 800)
    assert isinstance(found, Unsplittable)
    assert "one element of 'lines' alone is" in found.reason
    frame = exactjson.dumps(_event(5, station="S" * 900))
    found = split_event(frame, 800)
    assert isinstance(found, Unsplittable)
    assert "its other fields alone take" in found.reason
