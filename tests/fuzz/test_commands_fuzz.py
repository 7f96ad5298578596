"""Hostile command payloads against the parse + apply handler, on a real SQLite file.

Each example hands one payload to :class:`~edge.commands.apply.CommandHandler`
(the code the subscriber runs for every message) on a database holding the
demo catalog. Whatever the payload, the handler returns an answer and raises
nothing; exactly one ``command-result`` event is written for it; a rejected
command changes no table but the outbox (and the ``commands`` table, which
keeps it by its id); an applied one changes what its type may change and
nothing else; an answer without a readable ``command_id`` says null.

Three kinds of payload: arbitrary bytes; JSON documents built from hostile
values (exponents, floats, booleans, huge integers, NaN, nested arrays,
duplicate keys, unknown fields); and valid commands of every type with one
field replaced by a hostile value.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from edge.commands.apply import CommandHandler, Incoming
from edge.commands.names import COMMAND_TYPES
from edge.config import CommandsConfig
from edge.store.database import open_database
from tests.e2e.conftest import table_rows
from tests.fuzz.conftest import fuzz_settings
from tests.shop_floor import make_service

# What each type may change besides the outbox and the commands table.
MAY_CHANGE: dict[str, set[str]] = {
    "items.upsert": {"items", "aliases", "counters"},
    "bom.replace": {"bom_lines", "counters"},
    "cards.upsert": {"cards", "kanban_marks", "stock_state", "counters"},
    "stock.receive": {"ledger", "transactions", "balances", "reorders", "on_order", "cards",
                      "stock_state", "counters"},
    "stock.count": {"ledger", "transactions", "balances", "reorders", "on_order", "counts",
                    "stock_state", "counters"},
    "reorder.ack": {"reorders"},
    "reorder.cancel": {"reorders", "on_order", "stock_state", "counters"},
    "republish": {"stock_state"},
}  # fmt: skip
ALWAYS = {"outbox", "commands", "counters"}  # the answer's event, its row, seq and writes


@pytest.fixture(scope="module")
def handler(
    catalog_database: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CommandHandler]:
    path = tmp_path_factory.mktemp("fuzz-commands") / "edge.db"
    shutil.copy(catalog_database, path)
    engine = open_database(path)
    settings = CommandsConfig(enabled=True, max_bytes=4096)
    yield CommandHandler(make_service(engine), settings)
    engine.dispose()


hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.sampled_from(["1e3", "0.1234567", "NaN", "-0", "1,5", " 5", "", "١٢", "5.", ".5"]),
    st.text(max_size=80),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
RAW_NUMBERS = st.sampled_from(["1e3", "1E-2", "0.1234567", "1.0", "-0.0", "9" * 400, "NaN",
                               "Infinity", "-Infinity"])  # fmt: skip

PARTS = ["RM-GASKET", "RM-IMPELLER", "FG-PUMP-100", "SA-MOTOR-100", "PH-HOUSING", "NOPE"]


@st.composite
def valid_commands(draw: st.DrawFn) -> dict[str, Any]:
    command_type = draw(st.sampled_from(COMMAND_TYPES))
    part = draw(st.sampled_from(PARTS))
    quantity = draw(st.sampled_from([1, "2.5", 0, -1, "100"]))
    fields: dict[str, Any] = {
        "items.upsert": {"items": [{"part": part, "reorder_point": quantity}]},
        "bom.replace": {"parents": [{"parent": part, "lines": [
            {"component": draw(st.sampled_from(PARTS)), "qty_per": quantity}]}]},
        "cards.upsert": {"cards": [{"card": "K-1", "part": part, "container_qty": quantity}]},
        "stock.receive": {"part": part, "quantity": quantity},
        "stock.count": {"part": part, "counted": quantity},
        "reorder.ack": {"reorder_id": draw(st.integers(1, 5)), "reference": "PO-1"},
        "reorder.cancel": {"reorder_id": draw(st.integers(1, 5))},
        "republish": {},
    }[command_type]  # fmt: skip
    return {"command_id": str(uuid.uuid4()), "type": command_type, **fields}


@st.composite
def spoiled_commands(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid command with one field (or the envelope) replaced, removed or added."""
    command = draw(valid_commands())
    key = draw(st.sampled_from([*command, "extra", "if_catalog_version"]))
    action = draw(st.sampled_from(["replace", "remove", "raw"]))
    if action == "remove":
        command.pop(key, None)
        text = json.dumps(command)
    elif action == "replace":
        command[key] = draw(hostile)
        text = json.dumps(command)
    else:
        command[key] = "__RAW__"
        text = json.dumps(command).replace('"__RAW__"', draw(RAW_NUMBERS))
    return str(command.get("type", "stock.receive")), text.encode()


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, bytes]:
    """Arbitrary JSON (duplicate keys and nesting included) or arbitrary bytes."""
    topic_type = draw(st.sampled_from([*COMMAND_TYPES, "nope", "stock.receive"]))
    kind = draw(st.sampled_from(["bytes", "json", "duplicate", "deep"]))
    if kind == "bytes":
        return topic_type, draw(st.binary(max_size=200))
    if kind == "duplicate":
        command = {"command_id": str(uuid.uuid4()), "type": topic_type}
        return topic_type, (json.dumps(command)[:-1] + ', "type": "republish"}').encode()
    if kind == "deep":
        depth = draw(st.integers(1, 5000))
        return topic_type, ("[" * depth + "]" * depth).encode()
    value = draw(st.dictionaries(st.sampled_from(["command_id", "type", "part", "quantity",
                                                  "items", "x"]), hostile, max_size=5))  # fmt: skip
    return topic_type, json.dumps(value).encode()


def _check(handler: CommandHandler, topic_type: str, payload: bytes, retained: bool) -> None:
    database = Path(str(handler.service.engine.url.database))
    before = table_rows(database)
    incoming = Incoming(f"backflush/s/n/cmd/{topic_type}", topic_type, payload, retained)

    answer = handler.handle(incoming)

    after = table_rows(database)
    result = json.loads(answer.payload)
    event(f"{result['command_type']} {answer.status}")
    assert answer.status in ("applied", "rejected", "duplicate")
    assert result["type"] == "command-result"
    assert result["status"] == answer.status
    new_events = after["outbox"][len(before["outbox"]) :]
    assert [row[2] for row in new_events if row[2] == "command-result"] == ["command-result"]
    changed = {name for name in after if after[name] != before[name]}
    if answer.status == "applied":
        assert not retained
        assert changed <= ALWAYS | MAY_CHANGE[result["command_type"]], changed
    else:
        assert changed <= ALWAYS, changed
        assert len(new_events) == 1
    if result["command_id"] is None:
        assert len(after["commands"]) == len(before["commands"])


@fuzz_settings(0.5)
@given(spoiled_commands(), st.booleans())
def test_a_spoiled_command_is_answered_and_changes_only_what_it_may(
    handler: CommandHandler, spoiled: tuple[str, bytes], retained: bool
) -> None:
    _check(handler, *spoiled, retained)


@fuzz_settings(0.5)
@given(documents())
def test_any_payload_is_answered_without_raising(
    handler: CommandHandler, document: tuple[str, bytes]
) -> None:
    _check(handler, *document, retained=False)


@fuzz_settings(0.3)
@given(valid_commands())
def test_a_valid_command_repeated_is_a_duplicate_that_changes_nothing(
    handler: CommandHandler, command: dict[str, Any]
) -> None:
    payload = json.dumps(command).encode()
    incoming = Incoming(f"backflush/s/n/cmd/{command['type']}", command["type"], payload, False)
    first = handler.handle(incoming)
    database = Path(str(handler.service.engine.url.database))
    before = table_rows(database)

    again = handler.handle(incoming)

    after = table_rows(database)
    assert again.status == "duplicate"
    assert json.loads(again.payload)["first_status"] == first.status
    assert {name for name in after if after[name] != before[name]} <= {"outbox", "counters"}
