"""The relay's publish properties, packed once, are the bytes paho would pack each time."""

from __future__ import annotations

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.publish.connection import json_properties


def test_packed_once_equals_paho_packing_the_same_properties() -> None:
    for packet_type in (PacketTypes.PUBLISH, PacketTypes.WILLMESSAGE):
        ours = json_properties(packet_type)
        theirs = Properties(packet_type)  # type: ignore[no-untyped-call]
        theirs.PayloadFormatIndicator = 1
        theirs.ContentType = "application/json"
        assert ours.pack() == theirs.pack()  # type: ignore[no-untyped-call]
        assert ours.pack() == ours.pack()
        assert (ours.PayloadFormatIndicator, ours.ContentType) == (1, "application/json")
