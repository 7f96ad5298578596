"""The AsyncAPI 3.0 document of a node: every topic it publishes and every command it takes.

Built from the same declarations as everything else, so it cannot drift from
them: the payloads are the JSON Schemas of :func:`published_schemas` and
:func:`command_schemas`, the addresses come from :mod:`edge.publish.topics`.

Choices, and why:

* **One channel per event type** (``.../event/backflush``, ``.../event/scrap``,
  ...), not one ``.../event/{type}`` channel carrying every message. An
  AsyncAPI parameter cannot say which message goes with which value, so a
  parameterised channel would tell a reader (and AsyncAPI Studio or a code
  generator, which list messages per channel) that any event may arrive on
  any topic. A channel per type shows each topic with exactly its payload.
  Commands follow the same rule: one channel per command type, for one node
  and for the whole site.
* **Payloads as Multi Format Schema Objects** with ``schemaFormat``
  ``application/schema+json;version=draft-2020-12``: the schemas are draft
  2020-12, and AsyncAPI's default schema format is a superset of draft-07,
  so they are declared in their own format rather than passed off as the
  default one.
* **Addresses with the default prefix** ``backflush/{site}/{node}``; a node
  with ``mqtt.topic_prefix`` configured uses that prefix instead (said in
  ``info.description``). ``site``, ``node`` and ``part`` are address
  parameters.
* **A server with variables**, since the broker is the plant's: tools need
  one to render connection details, and ``host``/``port`` are left to fill in.
* **Names**: component and channel keys are the schema names with ``/``
  made ``.`` (component keys may not hold ``/``); each message's ``name`` is
  its schema name exactly (``event/backflush``, ``cmd/stock.receive``).
"""

from __future__ import annotations

from typing import Any

from edge import __version__
from edge.commands.schemas import command_schemas
from edge.contract.schemas import published_schemas
from edge.publish.topics import (
    command_topic,
    default_prefix,
    event_topic,
    site_command_topic,
    status_topic,
    stock_topic,
)

ASYNCAPI_VERSION = "3.0.0"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
CONTENT_TYPE = "application/json"
MQTT_BINDING_VERSION = "0.2.0"
QOS = 1  # everything, both ways (SPEC §6, §11)

PREFIX = default_prefix("{site}", "{node}")
ANSWER_CHANNEL = "command-answer"

_DESCRIPTION = """\
A Backflush Edge node turns barcode scans into stock movements and publishes
them over MQTT (QoS 1, JSON, UTF-8): an event per stock change, the retained
stock state of every part it touched and its own retained status (also its
Last Will). Central systems send it commands and get a `command-result`
event for each.

Delivery is at least once: de-duplicate by `event_id`; `seq` counts 1, 2,
3 ... per (`node`, `stream`) with no gaps, so a missing seq is a lost event;
`replayed: true` marks a copy sent from a backlog. A large event arrives in
parts with the same `event_id` (`part_index`, `part_count`, `part_field`):
concatenate the `part_field` lists in `part_index` order.

Addresses use the default topic prefix `backflush/{site}/{node}`; a node
configured with `mqtt.topic_prefix` uses that prefix instead. Quantities are
exact decimals written as JSON numbers: read them with a decimal parser."""


def _key(schema_name: str) -> str:
    """A component or channel key for a schema name (``event/backflush`` -> ``event.backflush``)."""
    return schema_name.replace("/", ".")


def _ref(*path: str) -> dict[str, str]:
    # JSON Pointer escaping: "~" then "/" (no key here holds either, but a pointer stays a pointer).
    return {"$ref": "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)}


_PARAMETERS: dict[str, dict[str, Any]] = {
    "site": {
        "description": "the site id of the node's config (`site.id`)",
        "examples": ["plant-1"],
    },
    "node": {
        "description": "the node id of the node's config (`site.node`)",
        "examples": ["pack-edge-01"],
    },
    "part": {
        "description": (
            'the part number as one topic level, `urllib.parse.quote(part, safe="")`: '
            "`M6/20 Bolt` is `M6%2F20%20Bolt`; the payload's `part` is the plain number"
        ),
        "examples": ["M6%2F20%20Bolt", "RM-GASKET"],
    },
}


def _message(schema_name: str, schema: dict[str, Any], *, published: bool) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": schema_name,
        "title": schema["title"],
        "contentType": CONTENT_TYPE,
        "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": schema},
    }
    if published:
        # What the relay sets on every MQTT 5 publish (edge.publish.connection).
        bindings = {"payloadFormatIndicator": 1, "contentType": CONTENT_TYPE}
    else:
        bindings = {
            "responseTopic": {
                "type": "string",
                "description": "optional (MQTT 5): the answer is also published there",
            },
            "correlationData": {
                "type": "string",
                "description": "optional (MQTT 5): copied into the answer on the response topic",
            },
        }
    message["bindings"] = {"mqtt": {**bindings, "bindingVersion": MQTT_BINDING_VERSION}}
    return message


def _channel(
    address: str | None, message_key: str, description: str, parameters: tuple[str, ...]
) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": address,
        "description": description,
        "messages": {message_key: _ref("components", "messages", message_key)},
    }
    if parameters:
        channel["parameters"] = {
            name: _ref("components", "parameters", name) for name in parameters
        }
    return channel


def _operation(
    action: str, channel_key: str, message_key: str, summary: str, *, retain: bool
) -> dict[str, Any]:
    return {
        "action": action,
        "channel": _ref("channels", channel_key),
        "summary": summary,
        "messages": [_ref("channels", channel_key, "messages", message_key)],
        "bindings": {
            "mqtt": {"qos": QOS, "retain": retain, "bindingVersion": MQTT_BINDING_VERSION}
        },
    }


_ANSWER_REPLY: dict[str, Any] = {
    "address": {
        "location": "$message.header#/responseTopic",
        "description": "the command's MQTT 5 Response Topic, with its Correlation Data copied",
    },
    "channel": _ref("channels", ANSWER_CHANNEL),
    "messages": [_ref("channels", ANSWER_CHANNEL, "messages", _key("event/command-result"))],
}


def asyncapi_document() -> dict[str, Any]:
    """The node's AsyncAPI 3.0.0 document, as a JSON-ready dict."""
    published = published_schemas()
    commands = command_schemas()
    messages = {
        _key(name): _message(name, schema, published=True) for name, schema in published.items()
    }
    messages |= {
        _key(name): _message(name, schema, published=False) for name, schema in commands.items()
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def publishes(
        name: str, address: str, description: str, params: tuple[str, ...], *, retain: bool
    ) -> None:
        key = _key(name)
        channels[key] = _channel(address, key, description, params)
        operations[f"publish.{key}"] = _operation("send", key, key, description, retain=retain)

    publishes(
        "status",
        status_topic(PREFIX),
        "the node's status, retained; `offline` is also its Last Will, "
        "published by the broker when the node dies",
        ("site", "node"),
        retain=True,
    )
    for name in published:
        if name.startswith("event/"):
            event_type = name.removeprefix("event/")
            publishes(
                name,
                event_topic(PREFIX, event_type),
                f"{published[name]['title']}, never retained",
                ("site", "node"),
                retain=False,
            )
    # The part level is filled in by the node (percent-encoded), so the address keeps a
    # parameter where stock_topic() would put the encoded part number.
    publishes(
        "stock",
        stock_topic(PREFIX, "") + "{part}",
        "a part's stock state, retained: the latest wins",
        ("site", "node", "part"),
        retain=True,
    )

    for name, schema in commands.items():
        command_type = name.removeprefix("cmd/")
        key = _key(name)
        for scope, address, params in (
            ("node", command_topic(PREFIX, command_type), ("site", "node")),
            ("site", site_command_topic("{site}", command_type), ("site",)),
        ):
            channel_key = key if scope == "node" else f"site.{key}"
            text = (
                f"{schema['title']} for this node"
                if scope == "node"
                else f"{schema['title']} for every node of the site"
            )
            channels[channel_key] = _channel(
                address,
                key,
                f"{text}; QoS 1, never retained (a retained command is refused)",
                params,
            )
            operation = _operation("receive", channel_key, key, f"apply a {text}", retain=False)
            operation["reply"] = _ANSWER_REPLY
            operations[f"receive.{channel_key}"] = operation
    channels[ANSWER_CHANNEL] = _channel(
        None,
        _key("event/command-result"),
        "the answer to a command on the MQTT 5 Response Topic it named (the same payload "
        "as its command-result event)",
        (),
    )

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:backflush-edge:node",
        "info": {
            "title": "Backflush Edge node",
            "version": __version__,
            "description": _DESCRIPTION,
        },
        "servers": {
            "plant-broker": {
                "host": "{host}:{port}",
                "protocol": "mqtt",
                "protocolVersion": "5",
                "description": "the plant's MQTT broker (MQTT 5 recommended; 3.1.1 works "
                "without command answers on a response topic)",
                "variables": {
                    "host": {"description": "the broker's host name", "examples": ["broker.plant"]},
                    "port": {
                        "default": "1883",
                        "examples": ["1883", "8883"],
                        "description": "1883, or 8883 with TLS",
                    },
                },
            }
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "parameters": _PARAMETERS},
    }
