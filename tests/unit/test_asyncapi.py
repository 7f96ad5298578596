"""The AsyncAPI document: valid against the official AsyncAPI 3.0.0 JSON Schema, and in step
with the published and command schemas (a message per schema, a schema per message).

The official schema is the npm package ``@asyncapi/specs``, which scripts/test fetches
(pinned, checksum verified) into ``.cache/asyncapi-specs``; it is not in the repository.
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from edge import __version__
from edge.cli.main import main
from edge.commands.schemas import command_schemas
from edge.contract.asyncapi import PREFIX, SCHEMA_FORMAT, asyncapi_document
from edge.contract.schemas import published_schemas
from edge.publish.topics import command_topic, event_topic, site_command_topic, status_topic

SPECS_VERSION = "6.11.1"  # as scripts/test pins it
OFFICIAL = (
    Path(__file__).resolve().parents[2]
    / f".cache/asyncapi-specs/{SPECS_VERSION}/package/schemas/3.0.0.json"
)


@cache
def official_validator() -> Draft7Validator:
    """The bundled schema's validator, every definition registered under its own $id."""
    if not OFFICIAL.exists():
        reason = f"{OFFICIAL} is missing: scripts/test fetches it (npm pack @asyncapi/specs)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    bundle = json.loads(OFFICIAL.read_text())
    # Its $refs are absolute URIs naming the entries of "definitions", e.g.
    # http://asyncapi.com/definitions/3.0.0/operation.json: register each under its URI.
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(definition, default_specification=DRAFT7))
        for uri, definition in bundle["definitions"].items()
    )
    Draft7Validator.check_schema(bundle)
    return Draft7Validator(bundle, registry=registry)


def complaints(document: dict[str, Any]) -> list[str]:
    return [f"{error.json_path}: {error.message}"
            for error in official_validator().iter_errors(document)]  # fmt: skip


def test_the_document_is_valid_asyncapi_3() -> None:
    document = asyncapi_document()
    assert complaints(document) == []
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == __version__


@pytest.mark.parametrize(
    ("spoil", "where"),
    [
        # An AsyncAPI 2 verb: caught only through operations.json -> operation.json.
        (lambda doc: doc["operations"]["publish.status"].__setitem__("action", "publish"),
         "$.operations"),
        # MQTT has no QoS 3: caught three $refs deep, in the MQTT operation binding.
        (lambda doc: doc["operations"]["publish.stock"]["bindings"]["mqtt"].__setitem__("qos", 3),
         "$.operations"),
        (lambda doc: doc["channels"]["status"].__setitem__("topic", "x"), "$.channels"),
    ],
    ids=["asyncapi-2-action", "qos-3", "unknown-channel-key"],
)  # fmt: skip
def test_the_official_schema_really_checks_deep_inside(spoil: Any, where: str) -> None:
    document = copy.deepcopy(asyncapi_document())
    spoil(document)
    found = complaints(document)
    assert found
    assert all(problem.startswith(where) for problem in found)


def resolve(document: dict[str, Any], reference: dict[str, str]) -> Any:
    """What a local $ref points at, following a reference to a reference."""
    target: Any = document
    for part in reference["$ref"].removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return resolve(document, target) if set(target) == {"$ref"} else target


def test_every_schema_has_a_message_and_every_message_a_schema() -> None:
    document = asyncapi_document()
    schemas = published_schemas() | command_schemas()
    messages = document["components"]["messages"]
    assert {message["name"] for message in messages.values()} == set(schemas)
    for message in messages.values():
        assert message["payload"] == {"schemaFormat": SCHEMA_FORMAT,
                                      "schema": schemas[message["name"]]}  # fmt: skip
        assert message["contentType"] == "application/json"
    used = {resolve(document, reference)["name"]
            for channel in document["channels"].values()
            for reference in channel["messages"].values()}  # fmt: skip
    assert used == set(schemas)


def test_every_topic_is_where_the_node_publishes_and_subscribes() -> None:
    document = asyncapi_document()
    addresses = {key: channel["address"] for key, channel in document["channels"].items()}
    assert addresses["status"] == status_topic(PREFIX) == "backflush/{site}/{node}/status"
    assert addresses["stock"] == "backflush/{site}/{node}/stock/{part}"
    for name in published_schemas():
        if name.startswith("event/"):
            event_type = name.removeprefix("event/")
            assert addresses[f"event.{event_type}"] == event_topic(PREFIX, event_type)
    for name in command_schemas():
        command_type = name.removeprefix("cmd/")
        key = name.replace("/", ".")
        assert addresses[key] == command_topic(PREFIX, command_type)
        assert addresses[f"site.{key}"] == site_command_topic("{site}", command_type)
    for channel in document["channels"].values():  # every {parameter} is declared
        address = channel["address"] or ""
        declared = set(channel.get("parameters", {}))
        assert {part[1:-1] for part in address.split("/") if part.startswith("{")} == declared


def test_operations_send_what_the_node_publishes_and_receive_the_commands() -> None:
    document = asyncapi_document()
    retained = {"status", "stock"}
    covered = set()
    for operation in document["operations"].values():
        channel = resolve(document, operation["channel"])
        [message_ref] = operation["messages"]
        message = resolve(document, message_ref)
        assert message in [resolve(document, ref) for ref in channel["messages"].values()]
        name = message["name"]
        mqtt = operation["bindings"]["mqtt"]
        assert mqtt["qos"] == 1
        assert mqtt["retain"] is (name in retained)
        if name.startswith("cmd/"):
            assert operation["action"] == "receive"
            reply = resolve(document, operation["reply"]["messages"][0])
            assert reply["name"] == "event/command-result"
        else:
            assert operation["action"] == "send"
        covered.add(name)
    assert covered == set(published_schemas() | command_schemas())


def test_edge_schema_asyncapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "asyncapi"]) == 0
    assert json.loads(capsys.readouterr().out) == asyncapi_document()
    assert main(["schema"]) == 0
    assert "asyncapi" in capsys.readouterr().out
