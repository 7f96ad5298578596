"""A node taking commands, for the tests of SPEC §11: a real Mosquitto, the real relay,
the real commands subscriber in threads of the test, and a paho MQTT 5 client as the ERP.

:meth:`CommandNode.send` publishes one command and returns its answer on the
response topic after checking that the same answer arrived as a
``command-result`` event through the broker.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any

from edge.commands.subscriber import CommandSubscriber
from edge.config import CommandsConfig
from edge.publish.topics import command_topic, event_topic, site_command_topic
from edge.runtime.bootstrap import build_command_subscriber
from tests.broker import Erp, Mosquitto, Subscriber, poll
from tests.integration.conftest import PREFIX, SITE, Plant, RelayThread


def command(command_type: str, **fields: Any) -> dict[str, Any]:
    """A command payload with a fresh command_id."""
    return {"command_id": str(uuid.uuid4()), "type": command_type, **fields}


class SubscriberThread:
    """The commands subscriber of ``plant`` running in a thread of the test."""

    def __init__(self, plant: Plant, relay: RelayThread, settings: CommandsConfig) -> None:
        config = dataclasses.replace(plant.config, commands=settings)
        self.subscriber: CommandSubscriber = build_command_subscriber(
            config,
            plant.service,
            on_committed=relay.relay.wake,
            republish=relay.relay.request_republish,
        )
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.subscriber.run, args=(self.stopping,))

    def start(self) -> SubscriberThread:
        self.thread.start()
        poll(self.subscriber.connected.is_set, "the commands subscriber to subscribe")
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the commands subscriber did not stop"


class CommandNode:
    """A plant with its relay and commands subscriber, an ERP and an event subscriber."""

    def __init__(
        self,
        broker: Mosquitto,
        plant: Plant,
        relay: RelayThread,
        *,
        events: Subscriber,
        erp: Erp,
        settings: CommandsConfig,
    ) -> None:
        self.broker = broker
        self.plant = plant
        self.relay = relay
        self.events = events
        self.erp = erp
        self.settings = settings
        self.commands = SubscriberThread(plant, relay, settings).start()

    def restart_subscriber(self) -> None:
        self.commands.stop()
        self.commands = SubscriberThread(self.plant, self.relay, self.settings).start()

    def topic(self, command_type: str, *, site: bool = False) -> str:
        if site:
            return site_command_topic(SITE, command_type)
        return command_topic(PREFIX, command_type)

    def send(self, payload: dict[str, Any] | bytes, *, topic: str | None = None,
             retain: bool = False) -> dict[str, Any]:  # fmt: skip
        """Send one command; its answer, which also arrived as a command-result event."""
        if topic is None:
            assert isinstance(payload, dict)
            topic = self.topic(str(payload["type"]))
        correlation = self.erp.send(topic, payload, retain=retain)
        answer: dict[str, Any] = self.erp.answer(correlation)
        assert answer["type"] == "command-result"
        event = self.event(answer["event_id"])
        assert event == answer
        return answer

    def event(self, event_id: str) -> dict[str, Any]:
        """The command-result event with this id, as it arrived through the broker."""
        topic = event_topic(PREFIX, "command-result")

        def arrived() -> dict[str, Any] | None:
            for message in self.events.on(topic):
                payload: dict[str, Any] = message.json()
                if payload["event_id"] == event_id:
                    payload.pop("replayed", None)
                    return payload
            return None

        return poll(arrived, f"the command-result event {event_id}")

    def results(self) -> list[dict[str, Any]]:
        """Every command-result event that arrived, oldest first."""
        topic = event_topic(PREFIX, "command-result")
        return [message.json() for message in self.events.on(topic)]
