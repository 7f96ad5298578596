"""The README's Python consumer, run as written against a real broker: each event once, a
large event reassembled from its parts, a gap named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.domain.events import EVENT_SCHEMA
from tests.broker import Mosquitto, mosquitto_binary, poll
from tests.readme import blocks

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]

STREAM = "5d0f3c1e-8a2b-4f7d-9c6e-1b2a3c4d5e6f"


def event(seq: int, event_id: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": "backflush", "schema": EVENT_SCHEMA,
            "occurred_at": "2026-12-02T07:14:03.118Z", "stream": STREAM, "seq": seq, "boot": 3,
            "site": "plant-1", "node": "pack-edge-01", **fields}  # fmt: skip


def test_the_readme_consumer_prints_each_event_once_and_names_a_gap(tmp_path: Path) -> None:
    [code] = blocks("python", "### Python")
    script = tmp_path / "consumer.py"
    script.write_text(code)
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    output = tmp_path / "out.txt"
    with output.open("wb") as out:
        consumer = subprocess.Popen([sys.executable, str(script), broker.host, str(broker.port)],
                                    stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    try:
        poll(lambda: "subscribed" in output.read_text(), "the consumer to subscribe")
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()
        topic = "backflush/plant-1/pack-edge-01/event/backflush"
        lines = [{"part": f"RM-{n}", "quantity": n, "uom": "EA"} for n in range(1, 5)]
        large = "01a2359a-6eee-72d3-a652-e44da7f29e30"
        sent = [
            event(1, "01a2359a-6eee-72d3-a652-e44da7f29e26", lines=lines),
            event(1, "01a2359a-6eee-72d3-a652-e44da7f29e26", lines=lines, replayed=True),
            # seq 2 lost
            *(
                event(
                    3,
                    large,
                    lines=lines[n : n + 2],
                    part_index=n // 2,
                    part_count=2,
                    part_field="lines",
                )
                for n in (2, 0)
            ),
            event(4, "01a2359a-6eee-72d3-a652-e44da7f29e31", lines=lines),
        ]
        for payload in sent:
            publisher.publish(topic, json.dumps(payload), qos=1).wait_for_publish(10)
        printed = poll(
            lambda: (text := output.read_text()).count("\n") >= 5 and text,
            "the consumer to print the events and the gap",
        )
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        consumer.terminate()
        consumer.wait(10)
        broker.stop()
    first, one, gap, three, four = printed.splitlines()
    assert (first, gap) == ("subscribed", "gap pack-edge-01 seq 2..2")
    received = [json.loads(text) for text in (one, three, four)]
    assert [(payload["seq"], payload["event_id"]) for payload in received] == [
        (1, sent[0]["event_id"]), (3, large), (4, sent[4]["event_id"])]  # fmt: skip
    reassembled = received[1]
    assert [line["part"] for line in reassembled["lines"]] == ["RM-1", "RM-2", "RM-3", "RM-4"]
    assert not {"part_index", "part_count", "part_field"} & set(reassembled)
