"""Command payloads validated into typed commands, or refused with JSON-path errors (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from edge.cli.main import main
from edge.commands.names import COMMAND_TYPES
from edge.commands.parse import (
    Command,
    Refused,
    parse_command,
)
from edge.commands.schemas import command_schemas
from edge.config import config_warnings, format_config, load_config

ID = "0F1E2D3C-4B5A-4968-8776-655443322110"


def parse(text: str | bytes, topic_type: str = "stock.receive", **options: Any) -> Any:
    payload = text.encode() if isinstance(text, str) else text
    return parse_command(payload, topic_type, max_bytes=options.get("max_bytes", 4096),
                         allowed=options.get("allowed", COMMAND_TYPES))  # fmt: skip


def body(command_type: str = "stock.receive", **fields: Any) -> str:
    return json.dumps({"command_id": ID, "type": command_type, **fields})


def errors(result: Any) -> list[tuple[str, str]]:
    assert isinstance(result, Refused), result
    return [(error.path, error.message) for error in result.errors]


def test_a_valid_receipt_becomes_a_typed_command_with_exact_quantities() -> None:
    result = parse(f'{{"command_id": "{ID}", "type": "stock.receive", "part": " BOLT ", '
                   '"quantity": 0.000001, "reorder_id": 3, "reference": "DN-1"}')  # fmt: skip

    assert result == Command(
        ID.lower(),
        "stock.receive",
        None,
        {"part": "BOLT", "quantity": Decimal("0.000001"), "reorder_id": 3, "reference": "DN-1"},
    )


@pytest.mark.parametrize(
    ("quantity", "ok"),
    [("12", True), ("-3", True), ("2.500000", True), ("1e3", False), ("1E3", False),
     ("0.1234567", False), ('"1.5"', True), ('"1e3"', False), ('" 5"', False),
     ("true", False), ("null", False), ('"NaN"', False), ("NaN", False), ("Infinity", False),
     ("[1]", False), ('"١٢"', False)],
)  # fmt: skip
def test_quantities_are_exact_decimals_or_refused(quantity: str, ok: bool) -> None:
    text = f'{{"command_id": "{ID}", "type": "stock.count", "part": "P", "counted": {quantity}}}'

    result = parse(text, "stock.count")

    if ok:
        assert isinstance(result, Command)
        assert result.fields["counted"] == Decimal(json.loads(quantity))
    else:
        assert isinstance(result, Refused)
        assert result.errors[0].path in ("$", "$.counted")


def test_every_problem_is_reported_with_its_path() -> None:
    result = parse(body(part=7, quantity="x", colour="red", card=""))

    assert errors(result) == [
        ("$.part", "must be a part number (a string), got the number 7"),
        ("$.quantity", "'x' is not a quantity (digits with up to 6 decimals, e.g. 12 or 0.25)"),
        ("$.colour", "unknown field for stock.receive (known: command_id, type, "
                     "if_catalog_version, part, quantity, reorder_id, card, reference)"),
        ("$.card", "part number is empty"),
    ]  # fmt: skip
    assert result.command_id == ID.lower()


def test_the_envelope_is_checked_first() -> None:
    assert errors(parse('{"type": "stock.receive"}'))[0] == ("$.command_id", "required (a UUID)")
    assert parse('{"type": "stock.receive"}').command_id is None
    assert errors(parse(body("stock.count", part="P", counted=1)))[0][0] == "$.type"
    unknown = parse(body("nope"), "nope")
    assert errors(unknown)[0][0] == "$"
    assert unknown.type is None
    assert errors(parse(body(part="P", quantity=1, if_catalog_version=-1)))[0][0] == (
        "$.if_catalog_version"
    )
    earlier = parse(body("stock.count", part="P", counted=1, counted_at="2026-12-02T07:00+01:00"),
                    "stock.count")  # fmt: skip
    assert isinstance(earlier, Command)
    assert earlier.fields["counted_at"] == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    for bad, complaint in (("2026-12-02T06:00", "offset"), ("yesterday", "RFC 3339"),
                           (1733119200, "a string")):  # fmt: skip
        found = errors(parse(body("stock.count", part="P", counted=1, counted_at=bad),
                             "stock.count"))  # fmt: skip
        assert found[0][0] == "$.counted_at"
        assert complaint in found[0][1]


@pytest.mark.parametrize(
    ("payload", "words"),
    [(b"\xff\xfe", "not UTF-8"), (b"{", "not JSON"), (b"[]", "JSON object"),
     (b'{"command_id": 1, "command_id": 2}', "appears twice"), (b"9" * 5000, "not JSON"),
     (b"[" * 100_000, "not JSON")],
)  # fmt: skip
def test_unreadable_payloads_are_refused_without_an_id(payload: bytes, words: str) -> None:
    result = parse(payload, max_bytes=1_000_000)

    assert isinstance(result, Refused)
    assert result.command_id is None
    assert result.type == "stock.receive"
    assert words in result.errors[0].message


def test_a_payload_over_max_bytes_is_not_read() -> None:
    result = parse(body(part="P", quantity=1), max_bytes=10)

    assert errors(result) == [("$", f"the payload is {len(body(part='P', quantity=1))} bytes, "
                                    "more than commands.max_bytes (10)")]  # fmt: skip
    assert result.command_id is None


def test_a_type_left_out_of_allow_is_refused_with_its_id() -> None:
    result = parse(body(part="P", quantity=1), allowed=("stock.count",))

    assert errors(result) == [("$.type", "stock.receive is not allowed here (commands.allow)")]
    assert result.command_id == ID.lower()


def test_master_data_rows_are_required_and_non_empty() -> None:
    assert errors(parse(body("items.upsert", items=[]), "items.upsert")) == [
        ("$.items", "must not be empty")
    ]
    assert errors(parse(body("bom.replace"), "bom.replace")) == [("$.parents", "required")]
    assert isinstance(parse(body("republish"), "republish"), Command)


# --------------------------------------------------------------------------- config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text('[site]\nid = "s"\nnode = "n"\n\n' + text)
    return path


def test_commands_are_off_by_default_and_every_type_is_allowed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))

    assert config.commands.enabled is False
    assert config.commands.allow == COMMAND_TYPES
    assert config.commands.max_bytes == 1024 * 1024
    assert "[commands]\nenabled = false\n" in format_config(config)


def test_the_commands_keys_are_checked(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"commands.allow: item 2: 'stock.recieve' is not one"):
        load_config(write(tmp_path, '[commands]\nallow = ["stock.count", "stock.recieve"]\n'))
    with pytest.raises(Exception, match=r"commands.max_bytes: must be between 64"):
        load_config(write(tmp_path, "[commands]\nmax_bytes = 1\n"))
    with pytest.raises(Exception, match=r"commands.enable: unknown key \(did you mean 'enabled'"):
        load_config(write(tmp_path, "[commands]\nenable = true\n"))


def test_check_config_warns_about_commands_over_mqtt_3_1_1(tmp_path: Path) -> None:
    three = load_config(
        write(tmp_path, '[mqtt]\nprotocol = "3.1.1"\n\n[commands]\nenabled = true\n')
    )
    five = load_config(write(tmp_path, "[commands]\nenabled = true\n"))

    assert [w for w in config_warnings(three) if "commands.enabled" in w] != []
    assert "Retain As Published" in next(w for w in config_warnings(three) if "commands." in w)
    assert [w for w in config_warnings(five) if "commands." in w] == []


# --------------------------------------------------------------------------- the contract

AGREEMENT = [
    (body(part="BOLT-M6", quantity=12), True),
    (body(part="BOLT-M6", quantity="2.5", reorder_id=3, reference="DN-1"), True),
    (body("stock.count", part="P", counted=0), True),
    (body("reorder.ack", reorder_id=1, reference="PO-7"), True),
    (body("reorder.cancel", reorder_id=1), True),
    (body("republish"), True),
    (body("items.upsert", items=[{"part": "P"}], if_catalog_version=3), True),
    (body("bom.replace", parents=[{"parent": "P", "lines": []}]), True),
    (body(part="BOLT-M6", quantity="1e3"), False),
    (body(part="BOLT-M6", quantity=True), False),
    (body(part="BOLT-M6"), False),
    (body(part="BOLT-M6", quantity=1, colour="red"), False),
    (body(part="BOLT-M6", quantity=1, card="K-1"), True),
    (body(part="BOLT-M6", quantity=1, card=7), False),
    (body("stock.count", part="P", counted=1, counted_at="2026-12-02T06:00:00Z"), True),
    (body("stock.count", part="P", counted=1, counted_at=5), False),
    (body("reorder.cancel", reorder_id=0), False),
    (body("items.upsert", items=[]), False),
    (body("republish", if_catalog_version=-1), False),
]


@pytest.mark.parametrize(("text", "valid"), AGREEMENT)
def test_the_published_command_schemas_agree_with_the_parser(text: str, valid: bool) -> None:
    document = json.loads(text)
    schema = command_schemas()[f"cmd/{document['type']}"]
    Draft202012Validator.check_schema(schema)

    by_schema = Draft202012Validator(schema).is_valid(document)
    by_parser = isinstance(parse(text, document["type"]), Command)

    assert by_schema is valid
    assert by_parser is valid


def test_edge_schema_prints_the_command_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "cmd/stock.receive"]) == 0
    printed = json.loads(capsys.readouterr().out)

    assert printed == command_schemas()["cmd/stock.receive"]
    assert main(["schema"]) == 0
    assert "cmd/republish" in capsys.readouterr().out
