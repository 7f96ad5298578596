"""``edge tail`` as a process against a real Mosquitto, fed as a node feeds it.

The test publishes real event payloads (rendered by the product) with QoS 1,
as the relay does: a duplicate, an event in parts, a seq skipped; and, with a
broker that keeps sessions, a broker restart in the middle; and a real node's
relay killed and started again. What ``edge tail`` prints and its exit status
are what a monitoring job would see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.domain import events, exactjson, payloads
from tests.broker import Mosquitto, poll
from tests.integration.conftest import Plant, RelayProcess

REPO = Path(__file__).resolve().parents[2]
SITE, NODE = "plant-1", "line-7"
STREAM = "0192c1d0-0000-7000-8000-0000000000aa"
CEILING_S = 30.0


def payload(seq: int, lines: int = 2, node: str = NODE) -> dict[str, Any]:
    number = 8000 + int(node.rsplit("-", 1)[1])  # one event id per (node, seq)
    envelope = events.Envelope(f"00000000-0000-7000-{number}-{seq:012d}", "2026-12-02T06:00:00Z",
                               STREAM, seq, 1, SITE, node)  # fmt: skip
    event = events.BackflushEvent(
        part="FG-1", quantity=Decimal(1), uom="EA",
        lines=tuple((f"C-{i}", Decimal(i + 1), "EA") for i in range(lines)),
        bom_hash="h", station="PACK-1", scanner="s1", scan_id=seq,
    )  # fmt: skip
    return exactjson.loads(exactjson.dumps(payloads.render(envelope, event)))  # type: ignore[no-any-return]


class Node:
    """Publishes as the relay does: QoS 1 to {prefix}/event/{type}, waiting for each PUBACK."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="node",
                                  protocol=MQTTProtocolVersion.MQTTv5)  # fmt: skip
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def send(self, message: dict[str, Any]) -> None:
        info = self.client.publish(f"backflush/{SITE}/{message['node']}/event/{message['type']}",
                                   exactjson.dumps(message), qos=1)  # fmt: skip
        info.wait_for_publish(CEILING_S)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Tail:
    """``edge tail`` as a process: JSON lines on stdout, its notices in a file."""

    def __init__(self, config: Path, *options: str) -> None:
        self.log = config.with_name(f"tail-{len(list(config.parent.glob('tail-*')))}.log")
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", "tail", "--config", str(config), *options],
                stdout=subprocess.PIPE, stderr=sink, text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip

    @property
    def stderr(self) -> list[str]:
        return self.log.read_text().splitlines()

    def connections(self) -> int:
        return sum("subscribed on" in line for line in self.stderr)

    def finish(self) -> tuple[int, list[Any]]:
        stdout, _ = self.process.communicate(timeout=CEILING_S)
        return self.process.returncode, [exactjson.loads(line) for line in stdout.splitlines()]


@pytest.fixture
def config(tmp_path: Path) -> Callable[[Mosquitto], Path]:
    def write(broker: Mosquitto) -> Path:
        path = tmp_path / "edge.toml"
        site = f'[site]\nid = "{SITE}"\nnode = "{NODE}"\n'
        mqtt = f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nkeepalive = 5\n'
        path.write_text(f"{site}\n{mqtt}")
        return path

    return write


@pytest.fixture
def node_for() -> Iterator[Callable[[Mosquitto], Node]]:
    nodes: list[Node] = []

    def make(broker: Mosquitto) -> Node:
        nodes.append(Node(broker))
        return nodes[-1]

    yield make
    for node in nodes:
        node.close()


def test_duplicates_parts_and_a_gap_as_a_monitoring_job_sees_them(
    make_broker: Callable[..., Mosquitto],
    config: Callable[[Mosquitto], Path],
    node_for: Callable[[Mosquitto], Node],
) -> None:
    broker = make_broker()
    tail = Tail(config(broker), "--json", "--count", "4", "--timeout", str(CEILING_S))
    poll(lambda: tail.connections() == 1, "edge tail to be subscribed", CEILING_S)
    node = node_for(broker)
    node.send(payload(1))
    node.send(payload(1))  # a re-send after a lost PUBACK
    big = payload(2, lines=5)
    for index, (start, end) in enumerate([(0, 3), (3, 5)]):
        node.send({**big, "part_index": index, "part_count": 2, "part_field": "lines",
                   "lines": big["lines"][start:end]})  # fmt: skip
    node.send(payload(4))  # seq 3 never comes
    node.send(payload(5))
    status, lines = tail.finish()
    assert status == 3, tail.stderr
    assert lines == [
        payload(1),
        {"tail": "duplicate", "event_id": payload(1)["event_id"]},
        big,
        {"tail": "gap", "node": NODE, "stream": STREAM, "first": 3, "last": 3},
        payload(4),
        payload(5),
    ]
    assert "edge tail: 4 events, 1 duplicates, 1 still missing" in tail.stderr


def test_a_broker_restart_is_a_pause_not_a_gap(
    make_broker: Callable[..., Mosquitto],
    config: Callable[[Mosquitto], Path],
    node_for: Callable[[Mosquitto], Node],
) -> None:
    broker = make_broker(persistence=True)
    tail = Tail(config(broker), "--json", "--count", "3", "--timeout", str(CEILING_S),
                "--client-id", "erp-tail")  # fmt: skip
    poll(lambda: tail.connections() == 1, "edge tail to be subscribed", CEILING_S)
    node_for(broker).send(payload(1))
    broker.stop()
    broker.start()
    # Published before the tail is back: its kept session holds them.
    node = node_for(broker)
    node.send(payload(2))
    node.send(payload(3))
    status, lines = tail.finish()
    assert status == 0, tail.stderr
    # QoS 1 is at least once: if the broker stops before the tail's PUBACK for seq 1
    # is on its disk, the kept session delivers seq 1 again, which the tail names a
    # duplicate. What a restart must never make is a gap.
    notices = [line for line in lines if "tail" in line]
    assert all(notice["tail"] == "duplicate" for notice in notices), notices
    assert [line["seq"] for line in lines if "tail" not in line] == [1, 2, 3]
    assert any("disconnected" in line for line in tail.stderr), tail.stderr


def test_a_node_killed_and_a_broker_restarted_cost_the_consumer_nothing(
    make_broker: Callable[..., Mosquitto],
    make_plant: Callable[..., Plant],
    relay_processes: Callable[[Plant], RelayProcess],
) -> None:
    """The real relay of a node feeds ``edge tail``; the node dies with kill -9 and its
    broker restarts while events are committed. Every event arrives once for the
    consumer, a re-sent one at most as a duplicate, and no gap is reported."""
    broker = make_broker(persistence=True)
    plant = make_plant(broker)
    tail = Tail(plant.config_path, "--json", "--count", "6", "--timeout", str(CEILING_S),
                "--client-id", "erp-tail")  # fmt: skip
    poll(lambda: tail.connections() == 1, "edge tail to be subscribed", CEILING_S)
    relay = relay_processes(plant)
    plant.receive_many("BOLT-M6", 3)
    poll(lambda: not plant.pending(), "the first events to be published", CEILING_S)
    relay.kill()
    plant.receive_many("NUT-M6", 2)  # committed while the node's relay is down
    broker.stop()
    broker.start()
    relay = relay_processes(plant)
    plant.receive("WASHER-6")
    status, lines = tail.finish()
    relay.stop()
    assert status == 0, tail.stderr
    received = [line for line in lines if "tail" not in line]
    assert [event["seq"] for event in received] == [1, 2, 3, 4, 5, 6]
    assert [event["part"] for event in received] == ["BOLT-M6"] * 3 + ["NUT-M6"] * 2 + ["WASHER-6"]
    assert {line["tail"] for line in lines if "tail" in line} <= {"duplicate"}
    stored = [exactjson.loads(row.payload) for row in plant.outbox()]
    assert [
        {k: v for k, v in event.items() if k != events.REPLAYED} for event in received
    ] == stored


def test_a_partition_of_nodes_gets_their_streams_whole_and_no_other(
    make_broker: Callable[..., Mosquitto],
    config: Callable[[Mosquitto], Path],
    node_for: Callable[[Mosquitto], Node],
) -> None:
    broker = make_broker()
    tail = Tail(config(broker), "--site", SITE, "--node", "line-1", "--node", "line-2", "--json",
                "--count", "4", "--timeout", str(CEILING_S))  # fmt: skip
    poll(lambda: tail.connections() == 1, "edge tail to be subscribed", CEILING_S)
    node = node_for(broker)
    for seq in (1, 2):
        for name in ("line-1", "line-3", "line-2"):  # line-3 is another consumer's partition
            node.send(payload(seq, node=name))
    status, lines = tail.finish()
    assert status == 0, tail.stderr
    assert [(line["node"], line["seq"]) for line in lines] == [
        ("line-1", 1), ("line-2", 1), ("line-1", 2), ("line-2", 2)
    ]  # fmt: skip
    assert any("line-1/event/#, backflush/plant-1/line-2/event/#" in line for line in tail.stderr)
