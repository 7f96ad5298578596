"""``edge tail``: the reference consumer of a node's (or a whole site's) events.

It subscribes with QoS 1 to ``{prefix}/event/#`` on the broker of the
config's ``[mqtt]`` table, hands every payload to an
:class:`~edge.tail.consumer.EventTracker` (de-duplication by ``event_id``,
parts reassembled, gaps and restores by (node, stream, seq)) and prints one
line per event, or one JSON object per line with ``--json``. ``--count N``
or ``--timeout S`` bound it for monitoring: the exit status is 3 when an
event reported missing had still not arrived at the end.
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.cli.arguments import EXIT_FAILURE, EXIT_OK, read_config
from edge.config import Config
from edge.domain import exactjson
from edge.publish.clients import paho_client
from edge.publish.connection import describe, install_paho_log_filter
from edge.publish.topics import default_prefix
from edge.tail.consumer import Duplicate, EventTracker, Gap, Observation, Restored, Seen

EXIT_GAP = 3
SESSION_EXPIRY_S = 3600  # how long the broker keeps events for a tail that lost its connection


def subscription(config: Config, site: str | None, nodes: Sequence[str] | None) -> list[str]:
    """The topic filters: this node's events, or a site's (every node, or the ones named).

    Several ``--node`` make one consumer of a partition of the site: a node's
    stream always goes whole to one consumer, so its seq order can be tracked.
    """
    if site is None and not nodes:
        return [f"{config.topic_prefix}/event/#"]
    return [f"{default_prefix(site or config.site.id, node)}/event/#"
            for node in dict.fromkeys(nodes or ["+"])]  # fmt: skip


def describe_observation(found: Observation) -> str:
    """One line for people."""
    if isinstance(found, Gap):
        return f"GAP {found.node} stream {found.stream}: seq {found.first}..{found.last} missing"
    if isinstance(found, Restored):
        return (f"RESTORED {found.node}: stream {found.old_stream} cut at seq {found.cut}, "
                f"new stream {found.new_stream}")  # fmt: skip
    event = found.payload
    text = f"{event.get('occurred_at')} {event.get('node')} #{event.get('seq')} {event.get('type')}"
    for key in ("part", "quantity", "station", "reason", "status"):
        if key in event:
            text += f" {key}={event[key]}"
    if isinstance(event.get("lines"), list):
        text += f" ({len(event['lines'])} lines)"
    late = " (late: fills a gap)" if isinstance(found, Seen) and found.filled else ""
    dup = "DUPLICATE " if isinstance(found, Duplicate) else ""
    return dup + text + late


def as_json(found: Observation) -> dict[str, Any]:
    if isinstance(found, Gap):
        return {"tail": "gap", "node": found.node, "stream": found.stream,
                "first": found.first, "last": found.last}  # fmt: skip
    if isinstance(found, Restored):
        return {"tail": "restored", "node": found.node, "old_stream": found.old_stream,
                "cut": found.cut, "new_stream": found.new_stream}  # fmt: skip
    if isinstance(found, Duplicate):
        return {"tail": "duplicate", "event_id": found.payload.get("event_id")}
    return found.payload


def cmd_tail(args: argparse.Namespace) -> int:
    config = read_config(args)
    topics = subscription(config, args.site, args.node)
    received: queue.SimpleQueue[bytes | Notice] = queue.SimpleQueue()
    client = _subscriber(config, topics, received, args.client_id)
    try:
        return _consume(args, received)
    finally:
        client.disconnect()
        client.loop_stop()


def _consume(args: argparse.Namespace, received: queue.SimpleQueue[bytes | Notice]) -> int:
    tracker = EventTracker()
    events = duplicates = 0
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        while args.count is None or events < args.count:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                break
            try:
                message = received.get(timeout=wait)
            except queue.Empty:
                break
            if isinstance(message, Notice):
                print(f"edge tail: {message.text}", file=sys.stderr, flush=True)
                if message.fatal:
                    return EXIT_FAILURE
                continue
            try:
                payload = exactjson.loads(message)
            except ValueError:
                print(f"edge tail: not JSON: {message[:80]!r}", file=sys.stderr)
                continue
            for found in tracker.feed(payload):
                events += isinstance(found, Seen)
                duplicates += isinstance(found, Duplicate)
                _show(found, json_lines=args.json)
    except KeyboardInterrupt:
        pass
    missing = tracker.open_gaps
    print(f"edge tail: {events} events, {duplicates} duplicates, {missing} still missing",
          file=sys.stderr)  # fmt: skip
    return EXIT_GAP if missing else EXIT_OK


def _show(found: Observation, *, json_lines: bool) -> None:
    if json_lines:
        print(exactjson.dumps(as_json(found)), flush=True)
    elif not isinstance(found, Duplicate):
        print(describe_observation(found), flush=True)


@dataclass(frozen=True, slots=True)
class Notice:
    """What the connection says, for stderr; ``fatal`` ends the tail."""

    text: str
    fatal: bool = False


def _subscriber(
    config: Config,
    topics: Sequence[str],
    received: queue.SimpleQueue[bytes | Notice],
    client_id: str | None,
) -> mqtt.Client:
    """A client subscribed to ``topics`` that reconnects by itself, keeping its session.

    With a session the broker keeps (Clean Start off, and an expiry with
    MQTT 5), events published while the connection is down are delivered
    when it is back, so a broker restart shows as a pause, not a gap.
    """
    settings = config.mqtt
    install_paho_log_filter()
    name = client_id or f"edge-tail-{socket.gethostname()}-{os.getpid()}"
    client = paho_client(settings, name, clean=False, reconnect=True)
    client.reconnect_delay_set(1, 5)

    def on_connect(
        client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            received.put(Notice(f"the broker refused the connection: {reason}", fatal=True))
            return
        client.subscribe([(topic, 1) for topic in topics])

    def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, codes: object, _p: object) -> None:
        # Said once the broker has the subscription: from here on, nothing published is missed.
        received.put(
            Notice(f"subscribed on {settings.host}:{settings.port} to {', '.join(topics)}")
        )

    def on_message(_client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        received.put(bytes(message.payload))

    def on_disconnect(
        _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        received.put(Notice(f"disconnected ({reason}); reconnecting"))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    options: dict[str, Any] = {}
    if settings.protocol == "5":
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        options = {"clean_start": False, "properties": properties}
    try:
        client.connect(settings.host, settings.port, settings.keepalive, **options)
    except (OSError, ValueError) as error:
        received.put(Notice(f"{settings.host}:{settings.port}: {describe(error)}", fatal=True))
    client.loop_start()
    return client
