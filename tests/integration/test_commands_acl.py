"""The README's example Mosquitto ACL, on a real broker: only the ERP's user may publish
commands, and only the node's user may publish its status, events and stock."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from edge.config import CommandsConfig
from edge.publish.topics import event_topic
from edge.store import queries
from tests.broker import Erp, Mosquitto, Subscriber, poll
from tests.integration.commands_node import CommandNode, command
from tests.integration.conftest import NODE, PREFIX, SITE, Plant, RelayThread

USERS = {"erp": "erp-secret", "pack-node": "node-secret", "intruder": "x"}


def example_acl(site: str, node: str) -> str:
    """The README's ACL for one node (``pack-node``) and the ERP (``erp``)."""
    return f"""\
# The ERP: sends commands to one node or to the whole site, reads the answers
# on its response topic and everything the nodes publish.
user erp
topic write backflush/{site}/+/cmd/#
topic write backflush/{site}/cmd/#
topic read erp/answers/#
topic read backflush/#

# One node: publishes its status, events and stock, takes its own and the
# site's commands, and answers on the ERP's response topic.
user pack-node
topic write backflush/{site}/{node}/status
topic write backflush/{site}/{node}/event/#
topic write backflush/{site}/{node}/stock/#
topic read backflush/{site}/{node}/cmd/#
topic read backflush/{site}/cmd/#
topic write erp/answers/#
"""


def test_the_example_acl_lets_only_the_erp_command_and_only_the_node_publish(
    tmp_path: Path,
    make_broker: Callable[..., Mosquitto],
    make_plant: Callable[..., Plant],
    relays: Callable[..., RelayThread],
) -> None:
    broker = make_broker(users=USERS, acl=example_acl(SITE, NODE), persistence=True)
    password = tmp_path / "node-password"
    password.write_text("node-secret\n")
    password.chmod(0o600)
    plant = make_plant(broker, username="pack-node", password_file=str(password))
    relay = relays(plant)
    relay.wait_connected()
    events = Subscriber(broker, f"{PREFIX}/#", client_id="acl-events", persistent=True,
                        username="erp", password="erp-secret").start()  # fmt: skip
    erp = Erp(broker, username="erp", password="erp-secret").start()
    intruder = Erp(broker, client_id="intruder", username="intruder", password="x",
                   response_topic="intruder/answers").start()  # fmt: skip
    node = CommandNode(broker, plant, relay, events=events, erp=erp,
                       settings=CommandsConfig(enabled=True))  # fmt: skip
    try:
        denied_before = broker.log_count("Denied PUBLISH")
        intruder.send(node.topic("stock.receive"),
                      command("stock.receive", part="BOLT-M6", quantity=100))  # fmt: skip
        erp.send(event_topic(PREFIX, "receipt"), b'{"type": "receipt", "forged": true}',
                 answer=False)  # fmt: skip

        answer = node.send(command("stock.receive", part="BOLT-M6", quantity=1))

        assert answer["status"] == "applied"
        stock = {row.part: row.on_hand for row in queries.stock(plant.engine)}
        assert stock["BOLT-M6"] == Decimal(1)
        poll(lambda: broker.log_count("Denied PUBLISH") >= denied_before + 2 or None,
             "the broker to deny the intruder's command and the ERP's forged event")  # fmt: skip
        forged = [m for m in events.on(event_topic(PREFIX, "receipt")) if b"forged" in m.payload]
        assert forged == []
        assert [result["status"] for result in node.results()] == ["applied"]
    finally:
        node.commands.stop()
        intruder.close()
        erp.close()
        events.close()
