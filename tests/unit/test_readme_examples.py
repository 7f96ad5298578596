"""The README's examples for central systems: an event of every type that follows its schema,
a Node-RED flow that imports, and a Telegraf config that parses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from edge.domain.events import EVENT_SCHEMA, EVENT_TYPES
from tests.contract import check_published
from tests.readme import blocks

EXAMPLES = "### Every event type, by example"


def event_examples() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for text in blocks("json", EXAMPLES):
        payload = json.loads(text, parse_float=Decimal)
        assert payload["type"] not in found, f"two README examples of {payload['type']}"
        found[payload["type"]] = payload
    return found


def test_the_readme_shows_an_example_of_every_event_type() -> None:
    assert set(event_examples()) == set(EVENT_TYPES)


def test_the_examples_are_of_the_schema_version_the_node_writes() -> None:
    versions = {payload["schema"] for payload in event_examples().values()}
    assert versions == {EVENT_SCHEMA}, (
        f"the README's examples are of schema {sorted(versions)}, the node writes {EVENT_SCHEMA}"
    )


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_each_example_follows_its_schema(event_type: str) -> None:
    payload = event_examples()[event_type]
    check_published(f"backflush/{payload['site']}/{payload['node']}/event/{event_type}", payload)


def test_the_examples_are_one_realistic_stream() -> None:
    examples = event_examples()
    restored = examples.pop("restored")
    streams = {payload["stream"] for payload in examples.values()}
    assert streams == {restored["previous_stream"]}
    seqs = sorted(payload["seq"] for payload in examples.values())
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gapless
    assert restored["seq"] == 1
    for payload in [*examples.values(), restored]:
        # A version 7 UUID: its first 48 bits are occurred_at in milliseconds.
        event_id = payload["event_id"]
        assert event_id[14] == "7"
        at = payload["occurred_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", at)
        milliseconds = round(datetime.fromisoformat(at).timestamp() * 1000)
        assert int(event_id.replace("-", "")[:12], 16) == milliseconds


def test_the_node_red_flow_wires_mqtt_in_to_a_function_to_debug() -> None:
    [text] = blocks("json", "### Node-RED")
    flow = json.loads(text)
    by_type = {node["type"]: node for node in flow}
    assert set(by_type) >= {"mqtt-broker", "mqtt in", "function", "debug"}
    mqtt_in, function, debug = by_type["mqtt in"], by_type["function"], by_type["debug"]
    assert mqtt_in["topic"] == "backflush/+/+/event/#"
    assert mqtt_in["qos"] == "1"
    assert mqtt_in["datatype"] == "json"
    assert mqtt_in["broker"] == by_type["mqtt-broker"]["id"]
    assert by_type["mqtt-broker"]["cleansession"] is False
    assert mqtt_in["wires"] == [[function["id"]]]
    assert function["wires"] == [[debug["id"]]]
    for needed in ("event_id", "part_index", "e.node", "e.stream", "e.seq"):
        assert needed in function["func"]


def test_the_telegraf_config_parses_and_reads_the_topic() -> None:
    [text] = blocks("toml", "### Telegraf")
    [consumer] = tomllib.loads(text)["inputs"]["mqtt_consumer"]
    assert consumer["data_format"] == "json_v2"
    assert consumer["topics"] == ["backflush/+/+/event/#"]
    assert consumer["qos"] == 1
    assert consumer["persistent_session"] is True
    [parsing] = consumer["topic_parsing"]
    levels = parsing["topic"].split("/")
    assert parsing["tags"].split("/") == ["_", "site", "node", "_", "_"]
    assert parsing["measurement"].split("/")[-1] == "measurement"
    assert len(levels) == len(parsing["tags"].split("/")) == 5
    [json_v2] = consumer["json_v2"]
    assert {tag["path"] for tag in json_v2["tag"]} >= {"part", "station"}
    fields = {field["path"] for field in json_v2["field"]}
    assert fields >= {"quantity", "on_hand"}
    # Every path it reads is a field of some event.
    examples = event_examples()
    for path in fields | {tag["path"] for tag in json_v2["tag"]}:
        assert any(path in payload for payload in examples.values()), path


# Runs the function node's code as Node-RED would: `msg`, `context` and `node` in scope,
# its return value the message passed on (null: none).
_NODE_RED_HARNESS = """
const body = process.argv[1];
const messages = JSON.parse(process.argv[2]);
const store = {};
const context = { get: (k) => store[k], set: (k, v) => { store[k] = v; } };
const out = [];
const node = { warn: (text) => out.push({ warn: text }) };
const run = new Function('msg', 'context', 'node', body);
for (const payload of messages) {
    const result = run({ payload }, context, node);
    out.push(result === null ? { dropped: payload.event_id } : { passed: result.payload.seq });
}
console.log(JSON.stringify(out));
"""


def test_the_node_red_function_drops_repeats_and_warns_of_a_gap() -> None:
    node_js = shutil.which("node")
    if node_js is None:
        reason = "node (Node.js) is not installed: scripts/test installs it with npm"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    [text] = blocks("json", "### Node-RED")
    [function] = [node for node in json.loads(text) if node["type"] == "function"]
    base = {"node": "pack-edge-01", "stream": "5d0f3c1e-8a2b-4f7d-9c6e-1b2a3c4d5e6f"}
    messages = [
        base | {"event_id": "a", "seq": 1},
        base | {"event_id": "a", "seq": 1, "replayed": True},
        base | {"event_id": "c", "seq": 3, "part_index": 0, "part_count": 2},
        base | {"event_id": "c", "seq": 3, "part_index": 1, "part_count": 2},
        base | {"event_id": "b", "seq": 2},
    ]
    result = subprocess.run(
        [node_js, "-e", _NODE_RED_HARNESS, function["func"], json.dumps(messages)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert json.loads(result.stdout) == [
        {"passed": 1},
        {"dropped": "a"},
        {"warn": "gap pack-edge-01 seq 2..2"},
        {"passed": 3},
        {"passed": 3},
        {"passed": 2},
    ]
