"""Payloads that fit the broker: the exact size of a PUBLISH, and an event split into parts.

Pure: no I/O. :class:`PayloadLimit` knows the largest payload one QoS 1
PUBLISH may carry on a topic: the smaller of ``mqtt.max_payload_bytes`` and
what the broker's Maximum Packet Size (MQTT 5 CONNACK) leaves once the
packet's own bytes are counted exactly (fixed header, remaining-length
bytes, topic, packet id, properties). :func:`split_event` cuts an event that
does not fit into parts, the format :mod:`edge.tail.consumer` reassembles:
each part is the whole event with a slice of its largest top-level list,
plus ``part_index`` (0, 1, ...), ``part_count`` (2 or more) and
``part_field`` (the list's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.domain import exactjson

PART_KEYS = ("part_index", "part_count", "part_field")
MQTT_MAX_REMAINING = 268_435_455  # the largest remaining length a 4-byte varint holds


def varint_size(value: int) -> int:
    """Bytes of MQTT's variable byte integer for ``value`` (the remaining length)."""
    size = 1
    while value > 127:
        value >>= 7
        size += 1
    return size


def publish_size(topic: str, payload_size: int, properties_size: int | None) -> int:
    """Bytes of a QoS 1 PUBLISH packet on the wire.

    ``properties_size``: the packed MQTT 5 properties, their length byte(s)
    included; None for MQTT 3.1.1, which has no properties.
    """
    remaining = 2 + len(topic.encode("utf-8")) + 2 + (properties_size or 0) + payload_size
    return 1 + varint_size(remaining) + remaining


@dataclass(frozen=True, slots=True)
class PayloadLimit:
    """What one connection may publish: ``max_payload`` bytes of payload (the config
    key), and whole packets of at most ``max_packet`` bytes (the broker's
    Maximum Packet Size; None when it gave none)."""

    max_payload: int
    max_packet: int | None
    properties_size: int | None  # see publish_size

    def for_topic(self, topic: str) -> int:
        """The largest payload, in bytes, that fits one PUBLISH on ``topic``."""
        if self.max_packet is None:
            return self.max_payload
        fixed = publish_size(topic, 0, self.properties_size)
        largest = 0
        for header in range(1, 5):  # the remaining length takes 1 to 4 bytes
            payload = self.max_packet - fixed - (header - 1)
            if payload > largest and publish_size(topic, payload, self.properties_size) <= (
                self.max_packet
            ):
                largest = payload
        return min(self.max_payload, largest)

    def source(self, topic: str) -> str:
        """Which limit binds on ``topic``, for a reason text."""
        if self.max_packet is not None and self.for_topic(topic) < self.max_payload:
            return f"the broker's Maximum Packet Size of {self.max_packet:,} bytes"
        return f"mqtt.max_payload_bytes = {self.max_payload:,}"


@dataclass(frozen=True, slots=True)
class Unsplittable:
    """Why an event that does not fit cannot be cut into parts that do."""

    reason: str


def too_large(size: int, limit: int, source: str) -> str:
    """The first words of every reason a payload is set aside for its size."""
    return f"payload of {size:,} bytes exceeds the limit of {limit:,} bytes ({source})"


def split_event(payload: str, limit: int, *, reserve: int = 0) -> list[str] | Unsplittable:
    """``payload`` (an event's JSON text) as parts of at most ``limit`` UTF-8 bytes each.

    The list cut is the event's largest top-level array; slices are filled
    greedily in order. ``reserve`` bytes are kept free in each part for a
    member the caller appends afterwards (``replayed``). A payload that
    already fits is returned as it is, alone.
    """
    if len(payload) * 4 + reserve <= limit:  # UTF-8 takes at most 4 bytes a character
        return [payload]
    if len(payload.encode("utf-8")) + reserve <= limit:
        return [payload]
    event = exactjson.loads(payload)
    if not isinstance(event, dict):
        return Unsplittable("not a JSON object")
    field = _largest_list(event)
    if field is None:
        return Unsplittable("it has no list to split")
    items: list[Any] = event[field]
    # Every part's bytes without its slice, with the widest index and count it can have.
    widest = len(items)
    frame = {**event, field: [], "part_index": widest, "part_count": widest, "part_field": field}
    budget = limit - reserve - _size(frame)
    if budget < 2:
        return Unsplittable(f"its other fields alone take {limit - budget:,} bytes")
    slices: list[list[Any]] = [[]]
    used = 0
    for item in items:
        item_size = _size(item)
        if item_size > budget:
            return Unsplittable(f"one element of {field!r} alone is {item_size:,} bytes")
        extra = item_size + (1 if slices[-1] else 0)  # the comma between elements
        if used + extra > budget:
            slices.append([])
            used, extra = 0, item_size
        slices[-1].append(item)
        used += extra
    if len(slices) < 2:  # cannot happen when the whole did not fit; kept as a guard
        return Unsplittable("it does not get smaller when split")
    count = len(slices)
    rest = {key: value for key, value in event.items() if key not in PART_KEYS}
    return [
        exactjson.dumps(
            {**rest, field: piece, "part_index": index, "part_count": count, "part_field": field}
        )
        for index, piece in enumerate(slices)
    ]


def _largest_list(event: dict[str, Any]) -> str | None:
    lists = [(_size(value), key) for key, value in event.items() if isinstance(value, list)]
    lists = [(size, key) for size, key in lists if size > 2]  # "[]" has nothing to share out
    return max(lists)[1] if lists else None


def _size(value: Any) -> int:
    return len(exactjson.dumps(value).encode("utf-8"))
