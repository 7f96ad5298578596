"""Commands from central systems (SPEC §11) through a real Mosquitto, end to end.

A paho MQTT 5 client plays the ERP; the node is the real relay and the real
commands subscriber on a real SQLite file. Every command's answer is checked
twice: on the ERP's response topic and as the command-result event the relay
published (:meth:`CommandNode.send` asserts they are the same payload).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from edge.config import CommandsConfig
from edge.domain import exactjson
from edge.publish.topics import event_topic, status_topic, stock_topic
from edge.runtime.clock import SystemClock
from edge.store import queries, schema
from tests.broker import Erp, Mosquitto, Subscriber, poll
from tests.integration.commands_node import CommandNode, command
from tests.integration.conftest import PREFIX, Plant, RelayThread

D = Decimal


@pytest.fixture
def make_node(
    make_broker: Callable[..., Mosquitto],
    make_plant: Callable[..., Plant],
    relays: Callable[..., RelayThread],
) -> Iterator[Callable[..., CommandNode]]:
    nodes: list[CommandNode] = []

    def make(settings: CommandsConfig | None = None) -> CommandNode:
        broker = make_broker(persistence=True)
        plant = make_plant(broker)
        relay = relays(plant)
        relay.wait_connected()
        # Persistent: events published while it reconnects (a broker restart) still reach it.
        events = Subscriber(broker, f"{PREFIX}/#", client_id="test-events", persistent=True)
        events.start()
        erp = Erp(broker).start()
        settings = settings or CommandsConfig(enabled=True)
        node = CommandNode(broker, plant, relay, events=events, erp=erp, settings=settings)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.commands.stop()
        node.erp.close()
        node.events.close()


def on_hand(plant: Plant, part: str) -> Decimal:
    return next(row.on_hand for row in queries.stock(plant.engine) if row.part == part)


def kept(plant: Plant) -> list[Any]:
    with plant.engine.connect() as connection:
        return list(connection.execute(select(schema.commands)))


def changes(plant: Plant) -> tuple[Any, ...]:
    """What a command may change: ledger, balances, reorders, items, BOMs and kept commands."""
    with plant.engine.connect() as connection:
        return tuple(
            tuple(connection.execute(select(table)))
            for table in (schema.ledger, schema.balances, schema.reorders, schema.items,
                          schema.aliases, schema.bom_lines, schema.commands)
        )  # fmt: skip


# --------------------------------------------------------------------------- each type


def test_a_count_sent_with_counted_at_is_compared_with_the_book_then(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    node.send(command("stock.receive", part="BOLT-M6", quantity=10))
    sheet = datetime.now(UTC)
    # Times are kept to the millisecond: the next receipt must be in a later one.
    poll(lambda: datetime.now(UTC) - sheet > timedelta(milliseconds=2), "a later millisecond")
    node.send(command("stock.receive", part="BOLT-M6", quantity=5))  # after the count sheet
    counted = node.send(command("stock.count", part="BOLT-M6", counted=9,
                                counted_at=sheet.isoformat()))  # fmt: skip
    assert counted["status"] == "applied", counted
    assert on_hand(node.plant, "BOLT-M6") == D(14)  # 9 counted, and the 5 received since
    future = node.send(command("stock.count", part="BOLT-M6", counted=1,
                               counted_at="2999-01-01T00:00:00Z"))  # fmt: skip
    assert future["status"] == "rejected"
    assert on_hand(node.plant, "BOLT-M6") == D(14)


def test_stock_receive_and_count_are_applied_as_the_command_line_would(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()

    received = node.send(command("stock.receive", part="BOLT-M6", quantity="12.5",
                                 reference="DN-4711"))  # fmt: skip
    counted = node.send(command("stock.count", part="NUT-M6", counted=7))

    assert received["status"] == "applied"
    assert received["errors"] == []
    assert counted["status"] == "applied"
    assert on_hand(node.plant, "BOLT-M6") == D("12.5")
    assert on_hand(node.plant, "NUT-M6") == D(7)
    receipt = node.events.wait_for(
        lambda ms: [m.json() for m in ms if m.topic == event_topic(PREFIX, "receipt")] or None,
        "the receipt event",
    )[0]
    assert receipt["part"] == "BOLT-M6"
    assert receipt["quantity"] == D("12.5")
    [row] = [row for row in kept(node.plant) if row.command_id == received["command_id"]]
    assert (row.command_type, row.status, row.reference) == ("stock.receive", "applied", "DN-4711")
    assert json.loads(row.answer)["status"] == "applied"


def test_items_and_boms_arrive_through_the_import_path_and_raise_the_catalog_version(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    items = [
        {"part": "PUMP-1", "description": "pump", "uom": "EA", "stocked": False},
        {"part": "BOLT-M6", "reorder_point": 5, "reorder_qty": "10", "aliases": ["04012345678901"]},
    ]

    upserted = node.send(command("items.upsert", items=items))
    replaced = node.send(command("bom.replace", parents=[
        {"parent": "PUMP-1", "lines": [{"component": "BOLT-M6", "qty_per": 4},
                                       {"component": "NUT-M6", "qty_per": "0.5", "scrap_pct": 2}]},
    ]))  # fmt: skip

    assert upserted["status"] == "applied", upserted
    assert replaced["status"] == "applied", replaced
    assert replaced["catalog_version"] > upserted["catalog_version"]
    with node.plant.engine.connect() as connection:
        lines = connection.execute(
            select(schema.bom_lines.c.component, schema.bom_lines.c.qty_per)
            .where(schema.bom_lines.c.parent == "PUMP-1")
            .order_by(schema.bom_lines.c.component)
        ).all()
        bolt = connection.execute(
            select(schema.items).where(schema.items.c.part == "BOLT-M6")
        ).one()
    assert [tuple(line) for line in lines] == [("BOLT-M6", "4"), ("NUT-M6", "0.5")]
    assert (bolt.reorder_point, bolt.reorder_qty) == ("5", "10")
    # The next backflush uses the BOM the command gave.
    at = SystemClock().moment()
    node.plant.service.transact(
        lambda inventory, _uow: inventory.consume("backflush", "PUMP-1", D(2), at)
    )
    assert on_hand(node.plant, "BOLT-M6") == D(-8)
    assert on_hand(node.plant, "NUT-M6") == D("-1.02")
    refused = node.send(command("bom.replace", parents=[
        {"parent": "PUMP-1", "lines": [{"component": "NOPE", "qty_per": 1}]},
    ]))  # fmt: skip
    assert refused["status"] == "rejected"
    assert refused["errors"][0]["path"] == "$.parents[0].lines[0].component"


def test_reorders_are_acknowledged_with_a_reference_and_cancelled(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    node.send(command("items.upsert", items=[{"part": "BOLT-M6", "reorder_point": 5,
                                               "reorder_qty": 10}]))  # fmt: skip
    node.send(command("stock.count", part="BOLT-M6", counted=2))
    [reorder] = queries.reorders(node.plant.engine, include_closed=False)

    acked = node.send(command("reorder.ack", reorder_id=reorder["reorder_id"],
                              reference="PO-2026-0042"))  # fmt: skip
    [shown] = queries.reorders(node.plant.engine, include_closed=False)
    cancelled = node.send(command("reorder.cancel", reorder_id=reorder["reorder_id"]))
    again = node.send(command("reorder.cancel", reorder_id=reorder["reorder_id"]))

    assert acked["status"] == "applied"
    assert shown["reference"] == "PO-2026-0042"
    assert cancelled["status"] == "applied"
    assert queries.reorders(node.plant.engine, include_closed=False) == []
    assert again["status"] == "rejected"
    closed = f"reorder {reorder['reorder_id']} is already closed"
    assert again["errors"] == [{"path": "$.reorder_id", "message": closed}]


def test_cards_arrive_through_the_import_path_and_raise_the_catalog_version(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    kanban = node.send(command("items.upsert", items=[
        {"part": "BOLT-M6", "stocked": True, "reorder_point": 20, "replenishment": "kanban",
         "count_tolerance_pct": "2.5"},
    ]))  # fmt: skip
    assert kanban["status"] == "applied", kanban
    cards = [
        {"card": "K-BOLT-1", "part": "BOLT-M6", "container_qty": 50, "location": "A1"},
        {"card": "K-BOLT-2", "part": "BOLT-M6", "container_qty": "50"},
    ]

    answer = node.send(command("cards.upsert", cards=cards,
                               if_catalog_version=kanban["catalog_version"]))  # fmt: skip

    assert (answer["status"], answer["errors"]) == ("applied", [])
    assert answer["catalog_version"] == kanban["catalog_version"] + 1
    with node.plant.engine.connect() as connection:
        stored = [tuple(row) for row in connection.execute(
            select(schema.cards.c.card, schema.cards.c.part, schema.cards.c.container_qty,
                   schema.cards.c.location, schema.cards.c.state).order_by(schema.cards.c.card)
        )]  # fmt: skip
        marked = [row.part for row in connection.execute(select(schema.kanban_marks))]
    assert stored == [("K-BOLT-1", "BOLT-M6", "50", "A1", "full"),
                      ("K-BOLT-2", "BOLT-M6", "50", "", "full")]  # fmt: skip
    assert marked == ["BOLT-M6"]
    [row] = [row for row in kept(node.plant) if row.command_id == answer["command_id"]]
    assert (row.command_type, row.status) == ("cards.upsert", "applied")


def test_a_stock_receive_with_a_card_refills_that_card_only(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    node.send(command("items.upsert", items=[
        {"part": "BOLT-M6", "stocked": True, "replenishment": "kanban"},
    ]))  # fmt: skip
    node.send(command("cards.upsert", cards=[
        {"card": "K-BOLT-1", "part": "BOLT-M6", "container_qty": 50},
    ]))  # fmt: skip
    full = node.send(command("stock.receive", part="BOLT-M6", quantity=50, card="K-BOLT-1"))
    assert [e["path"] for e in full["errors"]] == ["$.card"], full  # it is full
    at = SystemClock().moment()
    node.plant.service.transact(lambda inventory, _uow: inventory.empty_card("K-BOLT-1", at))
    refusals = [
        node.send(command("stock.receive", part="BOLT-M6", quantity=40, card="K-BOLT-1")),
        node.send(command("stock.receive", part="BOLT-M6", quantity=50, card="K-BOLT-1",
                          reorder_id=1)),
    ]  # fmt: skip
    assert [[e["path"] for e in r["errors"]] for r in refusals] == [["$.card"], ["$.reorder_id"]]

    refill = node.send(command("stock.receive", part="BOLT-M6", quantity=50, card="K-BOLT-1",
                               reference="DN-7"))  # fmt: skip

    assert (refill["status"], refill["errors"]) == ("applied", [])
    assert on_hand(node.plant, "BOLT-M6") == D(50)
    with node.plant.engine.connect() as connection:
        states = [tuple(r) for r in connection.execute(select(schema.cards.c.card,
                                                              schema.cards.c.state))]  # fmt: skip
        receipts = [exactjson.loads(r.payload) for r in connection.execute(
            select(schema.outbox.c.payload).where(schema.outbox.c.type == "receipt"))]  # fmt: skip
    assert states == [("K-BOLT-1", "full")]
    assert [(r["part"], r["quantity"], r["card"]) for r in receipts] == [
        ("BOLT-M6", 50, "K-BOLT-1")
    ]


def test_cards_the_rules_refuse_are_answered_with_their_paths(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    before = changes(node.plant)[:-1]
    cards = [
        {"card": "K-1", "part": "BOLT-M6", "container_qty": 10},  # BOLT-M6 is reordered
        {"card": "NUT-M6", "part": "BOLT-M6", "container_qty": 0, "colour": "red"},
    ]

    answer = node.send(command("cards.upsert", cards=cards))

    assert answer["status"] == "rejected"
    assert sorted(error["path"] for error in answer["errors"]) == [
        "$.cards[0].part", "$.cards[1].card", "$.cards[1].colour",
        "$.cards[1].container_qty", "$.cards[1].part",
    ]  # fmt: skip
    assert changes(node.plant)[:-1] == before
    with node.plant.engine.connect() as connection:
        assert list(connection.execute(select(schema.cards))) == []


def test_republish_sends_status_and_every_stock_state_again(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    node.send(command("stock.receive", part="BOLT-M6", quantity=3))
    stock = stock_topic(PREFIX, "BOLT-M6")
    status = status_topic(PREFIX)
    node.events.wait_for(lambda ms: any(m.topic == stock for m in ms) or None, "stock")
    stock_before = len(node.events.on(stock))
    status_before = len(node.events.on(status))

    answer = node.send(command("republish"))

    assert answer["status"] == "applied"
    node.events.wait_for(lambda _ms: len(node.events.on(stock)) > stock_before or None,
                         "the stock state again")  # fmt: skip
    node.events.wait_for(lambda _ms: len(node.events.on(status)) > status_before or None,
                         "the status again")  # fmt: skip
    assert node.events.last_json(stock)["on_hand"] == D(3)


def test_site_wide_commands_are_taken_too(make_node: Callable[..., CommandNode]) -> None:
    node = make_node()

    answer = node.send(command("stock.receive", part="WASHER-6", quantity=2),
                       topic=node.topic("stock.receive", site=True))  # fmt: skip

    assert answer["status"] == "applied"
    assert on_hand(node.plant, "WASHER-6") == D(2)


# --------------------------------------------------------------------------- safety


def test_a_repeated_command_id_is_a_duplicate_with_the_first_answer(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    once = command("stock.receive", part="BOLT-M6", quantity=5)
    refused = command("stock.receive", part="NO-SUCH", quantity=5)

    first = node.send(once)
    second = node.send(once)
    bad_first = node.send(refused)
    bad_second = node.send(refused)

    assert first["status"] == "applied"
    assert second["status"] == "duplicate"
    assert second["first_status"] == "applied"
    assert second["command_id"] == first["command_id"]
    assert on_hand(node.plant, "BOLT-M6") == D(5)
    assert bad_second["status"] == "duplicate"
    assert bad_second["first_status"] == "rejected"
    assert bad_second["errors"] == bad_first["errors"]


def test_a_retained_command_is_never_applied(make_node: Callable[..., CommandNode]) -> None:
    node = make_node()

    live = node.send(command("stock.receive", part="BOLT-M6", quantity=5), retain=True)
    # The retained one stays on the broker; the resumed session does not get it again
    # (Retain Handling: only for a new subscription), so the next answer is the next one.
    node.restart_subscriber()
    after = node.send(command("stock.count", part="NUT-M6", counted=0))

    assert live["status"] == "rejected"
    assert "retained" in live["errors"][0]["message"]
    assert after["status"] == "applied"
    assert [result["status"] for result in node.results()] == ["rejected", "applied"]
    assert on_hand(node.plant, "BOLT-M6") == D(0)
    # Not kept by its id: the sender may publish the same command again, live.
    assert [row.command_id for row in kept(node.plant)] == [after["command_id"]]


@pytest.mark.parametrize(
    ("payload", "path", "words"),
    [
        (b"{not json", "$", "not JSON"),
        (b"[1, 2]", "$", "JSON object"),
        (b'{"type": "stock.count", "part": "BOLT-M6", "counted": 1}', "$.command_id", "required"),
        (b'{"command_id": "c0ffee", "type": "stock.count", "part": "BOLT-M6", "counted": 1}',
         "$.command_id", "UUID"),
    ],
)  # fmt: skip
def test_a_malformed_command_is_answered_rejected_without_an_id(
    make_node: Callable[..., CommandNode], payload: bytes, path: str, words: str
) -> None:
    node = make_node()
    before = changes(node.plant)

    answer = node.send(payload, topic=node.topic("stock.count"))

    assert answer["status"] == "rejected"
    assert answer["command_id"] is None
    assert answer["errors"][0]["path"] == path
    assert words in answer["errors"][0]["message"]
    assert changes(node.plant) == before


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"part": "BOLT-M6", "quantity": 1, "colour": "red"}, "$.colour"),
        ({"part": "BOLT-M6", "quantity": True}, "$.quantity"),
        ({"part": 42, "quantity": 1}, "$.part"),
        ({"part": "BOLT-M6", "quantity": exactjson.Fragment("1.5e3")}, "$.quantity"),
        ({"part": "BOLT-M6", "quantity": exactjson.Fragment("2.50")}, None),
        ({"part": "BOLT-M6", "quantity": "0.1234567"}, "$.quantity"),
        ({"part": "BOLT-M6", "quantity": -1}, "$.quantity"),
        ({"part": "BOLT-M6"}, "$.quantity"),
        ({"part": "BOLT-M6", "quantity": 1, "card": "K-1"}, "$.card"),
    ],
)
def test_unknown_fields_wrong_types_and_bad_quantities_change_nothing(
    make_node: Callable[..., CommandNode], fields: dict[str, Any], path: str | None
) -> None:
    node = make_node()
    before = changes(node.plant)[:-1]

    answer = node.send(command("stock.receive", **fields))

    if path is None:  # the control case: an exact number literal is a quantity
        assert answer["status"] == "applied"
        assert on_hand(node.plant, "BOLT-M6") == D("2.5")
        return
    assert answer["status"] == "rejected"
    assert path in [error["path"] for error in answer["errors"]]
    assert changes(node.plant)[:-1] == before


def test_an_oversized_command_is_refused_unread(make_node: Callable[..., CommandNode]) -> None:
    node = make_node(CommandsConfig(enabled=True, max_bytes=1024))
    before = changes(node.plant)
    big = command("items.upsert", items=[{"part": f"P-{n}"} for n in range(200)])

    answer = node.send(big)

    assert answer["status"] == "rejected"
    assert answer["command_id"] is None
    assert "commands.max_bytes (1024)" in answer["errors"][0]["message"]
    assert changes(node.plant) == before


def test_a_stale_catalog_version_refuses_a_master_data_change(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    first = node.send(command("items.upsert", items=[{"part": "NEW-1"}]))
    version = first["catalog_version"]
    node.send(command("items.upsert", items=[{"part": "NEW-2"}]))

    stale = node.send(command("items.upsert", items=[{"part": "NEW-3"}],
                              if_catalog_version=version))  # fmt: skip
    current = node.send(command("items.upsert", items=[{"part": "NEW-3"}],
                                if_catalog_version=version + 1))  # fmt: skip

    assert stale["status"] == "rejected"
    assert stale["errors"][0]["path"] == "$.if_catalog_version"
    assert current["status"] == "applied"
    parts = {row.part for row in changes(node.plant)[3]}
    assert {"NEW-1", "NEW-2", "NEW-3"} <= parts


def test_a_type_left_out_of_allow_is_refused(make_node: Callable[..., CommandNode]) -> None:
    node = make_node(CommandsConfig(enabled=True, allow=("stock.count",)))

    refused = node.send(command("stock.receive", part="BOLT-M6", quantity=1))
    allowed = node.send(command("stock.count", part="BOLT-M6", counted=4))

    assert refused["status"] == "rejected"
    assert refused["errors"][0]["path"] == "$.type"
    assert "commands.allow" in refused["errors"][0]["message"]
    assert allowed["status"] == "applied"
    assert on_hand(node.plant, "BOLT-M6") == D(4)


# --------------------------------------------------------------------------- persistence


def test_commands_sent_while_the_subscriber_is_away_are_applied_when_it_returns(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    node.commands.stop()
    sent = [node.erp.send(node.topic("stock.receive"),
                          command("stock.receive", part="BOLT-M6", quantity=1))
            for _ in range(5)]  # fmt: skip
    # The broker restarts meanwhile: its persistence keeps the session and the commands.
    node.broker.save()
    node.broker.stop()
    node.broker.start()
    node.erp.wait_subscribed()

    node.restart_subscriber()

    answers = [node.erp.answer(correlation) for correlation in sent]
    assert [answer["status"] for answer in answers] == ["applied"] * 5
    poll(lambda: on_hand(node.plant, "BOLT-M6") == D(5) or None, "the five receipts")
    for answer in answers:
        node.event(answer["event_id"])


def test_reorder_reference_shows_in_edge_reorders_json(
    make_node: Callable[..., CommandNode],
) -> None:
    node = make_node()
    node.send(command("items.upsert", items=[{"part": "NUT-M6", "reorder_point": 1,
                                               "reorder_qty": 4}]))  # fmt: skip
    node.send(command("stock.count", part="NUT-M6", counted=0))
    [reorder] = queries.reorders(node.plant.engine, include_closed=False)
    node.send(command("reorder.ack", reorder_id=reorder["reorder_id"], reference="PO-7"))

    database = node.plant.config.database.path
    with sqlite3.connect(database) as connection:
        [shown] = queries.reorders(connection, include_closed=True)

    assert shown["reference"] == "PO-7"
