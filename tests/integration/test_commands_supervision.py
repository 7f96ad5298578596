"""The commands subscriber inside a real daemon: restarted when it dies, and a command that
fails unexpectedly answered without taking anything down.

The daemon runs in a thread of the test (tests/integration/test_supervision.py's
``InThread``) with a real SQLite file and a real Mosquitto. Failures go in
through the real interfaces: a :class:`CommandSubscriber` whose first run
dies, and a handler on a service whose ledger write fails
(:class:`tests.shop_floor.FailingLedgerService`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.commands.apply import CommandHandler, Incoming
from edge.commands.subscriber import CommandSubscriber
from edge.config import CommandsConfig, Config
from edge.publish.topics import command_filters
from edge.runtime.bootstrap import build_command_subscriber
from edge.runtime.daemon import Commands, Daemon, Relay
from edge.service import InventoryService
from edge.store.database import open_database
from tests.broker import Erp, Mosquitto, Subscriber, poll
from tests.integration.commands_node import command
from tests.integration.test_supervision import InThread, _crash_logged, _line, daemons, pty
from tests.scanner_pty import Pty
from tests.shop_floor import FailingLedgerService

__all__ = ["daemons", "pty"]  # the fixtures, used here by name

PREFIX = "backflush/plant-1/supervised"


class SubscriberDyingOnce(CommandSubscriber):
    """The real subscriber, whose first run dies from an unexpected error."""

    runs = 0

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("subscriber bug")
        super().run(stop)


def _dying_once(config: Config, service: InventoryService, relay: Relay | None) -> Commands:
    assert relay is not None
    real = build_command_subscriber(config, service, on_committed=relay.wake,
                                    republish=lambda: None)  # fmt: skip
    filters = command_filters(config.topic_prefix, config.site.id)
    return SubscriberDyingOnce(real.handler, config.mqtt, client_id=f"{config.client_id}-cmd",
                               topic_filters=filters)  # fmt: skip


@pytest.mark.broker
def test_a_dead_commands_subscriber_is_restarted_and_takes_commands(
    tmp_path: Path,
    pty: Pty,
    daemons: list[InThread],
    make_broker: Callable[..., Mosquitto],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    broker = make_broker()
    config_path = _line(tmp_path, pty, broker)
    with config_path.open("a") as file:
        file.write("\n[commands]\nenabled = true\n")
    erp = Erp(broker).start()
    events = Subscriber(broker, f"{PREFIX}/event/command-result", client_id="sup-events").start()
    try:
        daemon = Daemon(config_path, commands_factory=_dying_once)
        daemons.append(InThread(daemon))
        subscriber = daemon.commands
        assert isinstance(subscriber, SubscriberDyingOnce)
        # A session starts with the first subscription: only then can commands wait in it.
        poll(subscriber.connected.is_set, "the restarted subscriber to subscribe")
        correlation = erp.send(f"{PREFIX}/cmd/stock.receive",
                               command("stock.receive", part="RM-GASKET", quantity=3))  # fmt: skip

        answer = erp.answer(correlation)
        arrived = events.wait_for(
            lambda ms: [m.json() for m in ms if m.json()["event_id"] == answer["event_id"]] or None,
            "the command-result event",
        )
    finally:
        erp.close()
        events.close()

    assert answer["status"] == "applied"
    assert [{k: v for k, v in event.items() if k != "replayed"} for event in arrived] == [answer]
    assert _crash_logged(caplog, "commands", "subscriber bug")
    assert isinstance(daemon.commands, SubscriberDyingOnce)
    assert daemon.commands.runs == 2
    with sqlite3.connect(tmp_path / "edge.db") as db:
        assert db.execute("SELECT on_hand FROM balances WHERE part = 'RM-GASKET'").fetchall() == [
            ("3",)
        ]


def test_a_command_failing_unexpectedly_is_answered_rejected_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_database(tmp_path / "edge.db")
    try:
        service = FailingLedgerService(engine, fail_on_call=1)
        service.transact(lambda _inventory, uow: uow.connection.exec_driver_sql(
            "INSERT INTO items (part, description, uom, stocked, updated_at) "
            "VALUES ('P', '', 'EA', 0, '2026-12-02T06:00:00.000Z')"))  # fmt: skip
        handler = CommandHandler(service, CommandsConfig(enabled=True))
        payload = command("stock.receive", part="P", quantity=1)
        text = json.dumps(payload).encode()

        answer = handler.handle(Incoming("t/cmd/stock.receive", "stock.receive", text, False))
        again = handler.handle(Incoming("t/cmd/stock.receive", "stock.receive", text, False))

        with engine.connect() as connection:
            ledger = connection.exec_driver_sql("SELECT * FROM ledger").fetchall()
            kept = connection.exec_driver_sql("SELECT * FROM commands").fetchall()
    finally:
        engine.dispose()
    assert answer.status == "rejected"
    assert "internal error" in answer.payload
    assert again.status == "rejected"  # not kept by its id: a fixed node may apply it
    assert ledger == []
    assert kept == []
    assert any("answered rejected" in record.getMessage() for record in caplog.records)
