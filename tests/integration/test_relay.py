"""The outbox relay against a real Mosquitto and a real SQLite file.

Events are made by the real core (receipts and counts through
``InventoryService``); the relay runs in a thread, or in a child process when
a test must kill -9 or SIGSTOP it. Every wait polls with a generous ceiling.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edge.store import outbox, queries
from tests.broker import BrokerTls, ClientTls, Received, Subscriber, TestCA, poll, subscribed
from tests.integration.conftest import PREFIX, Plant, needs_mosquitto

pytestmark = [pytest.mark.broker, needs_mosquitto]

STATUS = f"{PREFIX}/status"
EVENT_FIELDS = {"event_id", "type", "schema", "occurred_at", "seq", "boot", "site", "node"}


def _status(messages: list[Received], state: str) -> dict[str, Any] | None:
    for message in reversed(messages):
        if message.topic == STATUS:
            payload = message.json()
            return payload if payload["state"] == state else None
    return None


def _wait_status(subscriber: Subscriber, state: str, ceiling: float = 30) -> dict[str, Any]:
    return subscriber.wait_for(lambda m: _status(m, state), f"status {state}", ceiling)


def _by_seq(events: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    copies: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        copies.setdefault(event["seq"], []).append(event)
    return copies


def _assert_complete(plant: Plant, events: list[dict[str, Any]]) -> None:
    """Every outbox event arrived: seq 1..n without gaps after de-duplication by event_id."""
    unique = {event["event_id"]: event for event in events}
    seqs = sorted(event["seq"] for event in unique.values())
    assert seqs == list(range(1, plant.last_seq() + 1))
    stored = {row.event_id for row in plant.outbox()}
    assert set(unique) == stored


def test_events_status_and_stock_on_their_topics(make_broker, make_plant, relays) -> None:
    broker = make_broker()
    plant = make_plant(broker)
    with subscribed(broker, f"{PREFIX}/#") as subscriber:
        relay = relays(plant)
        online = _wait_status(subscriber, "online")
        assert online["boot"] == relay.boot
        assert online["site"] == "plant-1"
        assert online["node"] == "relay-test"
        assert {"version", "clock_synced", "backlog", "set_aside", "outbox_full"} <= set(online)

        plant.receive("BOLT-M6", "5")
        relay.relay.wake()
        plant.count("NUT-M6", "0")  # as booked: no variance event
        relay.relay.wake()
        events = subscriber.wait_for_seqs(plant.last_seq())
        subscriber.wait_for(
            lambda m: any(x.topic.endswith("/stock/NUT-M6") for x in m), "the NUT-M6 stock state"
        )

    receipt, count = events
    assert receipt["type"] == "receipt"
    assert set(receipt) >= EVENT_FIELDS
    assert (receipt["part"], receipt["quantity"], receipt["on_hand"]) == ("BOLT-M6", 5, 5)
    assert receipt["boot"] == relay.boot
    assert count["type"] == "count"
    assert (count["part"], str(count["counted"])) == ("NUT-M6", "0")
    # Committed while connected: published live, not flagged as replayed.
    assert "replayed" not in receipt
    assert "replayed" not in count
    event_messages = [m for m in subscriber.messages if "/event/" in m.topic]
    assert [m.topic for m in event_messages] == [f"{PREFIX}/event/receipt", f"{PREFIX}/event/count"]
    # The payload on the wire is the outbox text, byte for byte.
    assert [m.payload.decode() for m in event_messages] == [row.payload for row in plant.outbox()]
    stock = subscriber.last_json(f"{PREFIX}/stock/BOLT-M6")
    assert stock["part"] == "BOLT-M6"
    assert stock["on_hand"] == 5
    assert {"on_order", "reorder_point"} <= set(stock)

    poll(lambda: not plant.pending(), "every row marked published")
    poll(lambda: relay.state().pending == 0, "the relay to count no backlog")
    relay.stop()
    assert not relay.state().connected


def test_a_new_subscriber_gets_status_and_stock_but_no_old_events(
    make_broker, make_plant, relays
) -> None:
    broker = make_broker()
    plant = make_plant(broker)
    relay = relays(plant)
    relay.wait_connected()
    for part in ("BOLT-M6", "NUT-M6"):
        plant.receive(part, "3")
        relay.relay.wake()
    # Nobody subscribes yet: the broker answers 0x10 "no matching subscribers",
    # which is a success, so every row is marked published.
    poll(lambda: not plant.pending(), "every row marked published")
    poll(lambda: relay.state().stock_pending == 0, "every stock state acknowledged")

    with subscribed(broker, f"{PREFIX}/#", client_id="late-subscriber") as late:
        late.wait_for(
            lambda m: (
                {x.topic for x in m}
                >= {STATUS, f"{PREFIX}/stock/BOLT-M6", f"{PREFIX}/stock/NUT-M6"}
            ),
            "retained status and stock",
        )
        messages = late.messages
    assert all(m.retain for m in messages)
    assert not [m for m in messages if "/event/" in m.topic]
    assert _status(messages, "online") is not None
    relay.stop()

    with subscribed(broker, STATUS, client_id="after-stop") as after:
        offline = after.wait_for(lambda m: _status(m, "offline"), "retained offline")
    assert offline["boot"] == relay.boot


class Stream:
    """Commits one receipt after another in a thread, like a packing line scanning."""

    def __init__(self, plant: Plant, relay: Any | None = None, pace_s: float = 0.01) -> None:
        self.plant = plant
        self.relay = relay
        self.pace_s = pace_s
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, name="stream")
        self.committed = 0

    def _run(self) -> None:
        parts = ("BOLT-M6", "NUT-M6", "WASHER-6")
        while not self.halt.is_set():
            self.plant.receive(parts[self.committed % len(parts)])
            self.committed += 1
            if self.relay is not None:
                self.relay.relay.wake()
            self.halt.wait(self.pace_s)  # pacing between scans, not a synchronisation

    def __enter__(self) -> Stream:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.halt.set()
        self.thread.join(30)

    def wait_for_more(self, count: int) -> None:
        target = self.committed + count
        poll(lambda: self.committed >= target, f"{count} more committed events")


def test_broker_killed_during_a_stream_every_event_arrives(make_broker, make_plant, relays) -> None:
    broker = make_broker(persistence=True)
    plant = make_plant(broker)
    with subscribed(broker, f"{PREFIX}/#", persistent=True, client_id="erp") as erp:
        broker.save()  # the ERP's session (and subscription) survives the SIGKILL
        relay = relays(plant)
        relay.wait_connected()
        with Stream(plant, relay) as stream:
            stream.wait_for_more(40)
            broker.kill()
            killed_after = plant.last_seq()
            poll(lambda: not relay.state().connected, "the relay to notice the outage")
            stream.wait_for_more(60)
            # Read before the restart: an event committed after the relay's
            # next CONNACK is sent live, not from the backlog.
            outage = range(killed_after + 1, plant.last_seq() + 1)
            broker.start()
            restarted = time.monotonic()
            stream.wait_for_more(40)
        events = erp.wait_for_seqs(plant.last_seq(), ceiling=60)
        poll(lambda: not plant.pending(), "every row marked published")

    _assert_complete(plant, events)
    copies = _by_seq(events)
    # Committed while the broker was gone: sent from the backlog, flagged on every copy.
    assert all(event.get("replayed") is True for seq in outage for event in copies[seq])
    # A copy sent again keeps everything but the flag.
    for same in copies.values():
        bare = [{k: v for k, v in event.items() if k != "replayed"} for event in same]
        assert all(copy == bare[0] for copy in bare)
    arrivals = {}
    for message in erp.messages:
        if "/event/" in message.topic:
            arrivals.setdefault(message.json()["seq"], message.at)
    drained = max(arrivals[seq] for seq in outage) - restarted
    duplicates = len(events) - plant.last_seq()
    print(
        f"\noutage: {plant.last_seq()} events, {len(outage)} committed during the outage, "
        f"{duplicates} duplicates received, backlog delivered {drained:.2f} s after restart"
    )


def test_relay_killed_mid_flight_then_restarted_loses_nothing(
    make_broker, make_plant, relays, relay_processes
) -> None:
    broker = make_broker()
    plant = make_plant(broker)
    # A backlog the child takes a while to drain: 600 events were sent and recorded
    # (the drain's answers are written as soon as it is done) before a loaded machine's
    # test saw the 50th and killed it.
    for _ in range(3):
        plant.receive_many("BOLT-M6", 1000)
    with subscribed(broker, f"{PREFIX}/#") as erp:
        child = relay_processes(plant)
        poll(lambda: len(erp.seqs()) >= 50, "the first events")
        child.kill()
        # The socket closed with the process: the broker publishes the Last Will at once.
        will = _wait_status(erp, "offline")
        assert will["reason"] == "connection-lost"
        left = len(plant.pending())
        assert left > 0, "the child finished before it was killed"

        relay = relays(plant)
        events = erp.wait_for_seqs(plant.last_seq(), ceiling=60)
        poll(lambda: not plant.pending(), "every row marked published")
        assert _wait_status(erp, "online")["boot"] == relay.boot

    _assert_complete(plant, events)
    copies = _by_seq(events)
    # What the new relay sent had been committed before it connected: all replayed.
    assert all(copies[row.seq][-1].get("replayed") is True for row in plant.outbox()[-left:])
    print(
        f"\nrelay crash: {plant.last_seq()} events, {left} not yet recorded as sent, "
        f"{len(events) - plant.last_seq()} duplicates received"
    )


def test_last_will_when_the_relay_process_freezes(make_broker, make_plant, relay_processes) -> None:
    broker = make_broker()
    plant = make_plant(broker, keepalive=5)
    with subscribed(broker, STATUS) as watcher:
        child = relay_processes(plant)
        _wait_status(watcher, "online")
        child.signal(signal.SIGSTOP)
        # Nothing closes the socket: the broker gives up after 1.5 x keepalive.
        will = _wait_status(watcher, "offline", ceiling=3 * 5)
        assert will["reason"] == "connection-lost"
        child.signal(signal.SIGCONT)
        _wait_status(watcher, "online")
        assert child.stop() == 0
        clean = _wait_status(watcher, "offline")
        assert clean["reason"] == "shutdown"
    assert "Traceback" not in child.log_text()


@pytest.mark.parametrize(
    "part",
    ["A/B+C#D", "100% $x", "two words", "Überzug-ß ÄÖ", "$SYS/x", "#", "+", "a//b/"],
)
def test_part_numbers_become_one_safe_topic_level(make_broker, make_plant, relays, part) -> None:
    broker = make_broker()
    plant = make_plant(broker, parts=(part,))
    with subscribed(broker, f"{PREFIX}/#") as erp:
        relay = relays(plant)
        relay.wait_connected()
        plant.receive(part, "2")
        relay.relay.wake()
        topic = f"{PREFIX}/stock/{urllib.parse.quote(part, safe='')}"
        stock = erp.wait_for(lambda _m: erp.last_json(topic), f"stock on {topic}")
        [event] = erp.wait_for_seqs(plant.last_seq())
    assert plant.stock_topic(part) == topic
    assert topic.count("/") == PREFIX.count("/") + 2
    assert stock["part"] == part
    assert event["part"] == part
    state = relay.state()
    assert state.connected
    assert state.failed_attempts == 0
    assert broker.log_count("New client connected") == 2  # the subscriber and the relay, once


def test_a_receipt_made_by_another_process_is_published(make_broker, make_plant, relays) -> None:
    broker = make_broker()
    plant = make_plant(broker)
    with subscribed(broker, f"{PREFIX}/#") as erp:
        relay = relays(plant)
        relay.wait_connected()
        result = subprocess.run(
            [sys.executable, "-m", "edge", "receive", "NUT-M6", "7",
             "--config", str(plant.config_path)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        # Nobody called wake(): the relay found the row by polling.
        [event] = erp.wait_for_seqs(plant.last_seq())
        stock = erp.wait_for(
            lambda _m: erp.last_json(f"{PREFIX}/stock/NUT-M6"), "the NUT-M6 stock state"
        )
    assert (event["type"], event["part"], event["quantity"]) == ("receipt", "NUT-M6", 7)
    assert "replayed" not in event
    assert stock["on_hand"] == 7


def test_wrong_password_backs_off_and_the_next_connection_reads_the_new_one(
    make_broker, make_plant, relays, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge.publish.relay")
    broker = make_broker(users={"edge": "s3cret-right"})
    secret = broker.directory / "edge-password"
    secret.write_text("s3cret-wrong\n")
    plant = make_plant(broker, username="edge", password_file=str(secret), reconnect_max_s=4)
    relay = relays(plant)
    delays: list[float] = []

    def failures() -> bool:
        state = relay.state()
        if state.retry_delay_s is not None and state.retry_delay_s not in delays:
            delays.append(state.retry_delay_s)
        return state.failed_attempts >= 3

    poll(failures, "three refused connections", interval=0.02)
    state = relay.state()
    assert not state.connected
    assert "Not authorized" in (state.last_error or "")
    # Every attempt is the relay's own, one per back-off step: paho does not retry by itself.
    assert broker.log_count("not authorised") <= state.failed_attempts + 1
    assert delays[:2] == [1.0, 2.0]

    secret.write_text("s3cret-right\n")
    relay.wait_connected()
    assert "s3cret" not in caplog.text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # one line, not one per try


def test_an_acl_denied_topic_is_set_aside_without_blocking_later_events(
    make_broker, make_plant, relays, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="edge.publish.relay")
    allowed = (
        f"user edge\ntopic write {PREFIX}/status\ntopic write {PREFIX}/stock/#\n"
        f"topic write {PREFIX}/event/receipt\n\nuser erp\ntopic read {PREFIX}/#\n"
    )
    broker = make_broker(users={"edge": "edge-pw", "erp": "erp-pw"}, acl=allowed)
    secret = broker.directory / "edge-password"
    secret.write_text("edge-pw")
    plant = make_plant(broker, username="edge", password_file=str(secret))
    with subscribed(broker, f"{PREFIX}/#", username="erp", password="erp-pw") as erp:
        relay = relays(plant)
        _wait_status(erp, "online")
        plant.receive("BOLT-M6", "1")  # seq 1: allowed
        plant.count("NUT-M6", "0")  # seq 2: event/count is denied (as booked: no variance)
        plant.receive("WASHER-6", "1")  # seq 3: allowed, after the denied one
        relay.relay.wake()
        poll(lambda: erp.seqs() >= {1, 3}, "events 1 and 3")
        poll(lambda: relay.state().set_aside == 1, "the relay to report one row set aside")
        status = _wait_status_where(erp, lambda s: s["set_aside"] == 1)
        assert status["state"] == "online"
        assert "1 SET ASIDE" in relay.relay.status_line()

        [pending] = queries.events(plant.engine, pending=True)
        assert pending["seq"] == 2
        assert pending["set_aside"] is True
        assert f"{PREFIX}/event/count" in pending["last_error"]
        assert queries.outbox_summary(plant.engine).set_aside == 1
        shown = _edge(plant, "events", "--pending")
        assert "1 of them set aside: refused by the broker" in shown
        poll(lambda: plant.pending()[0].attempts >= 2, "a retry")
        denials = [r for r in caplog.records if f"{PREFIX}/event/count" in r.getMessage()]
        assert len(denials) == 1  # logged once, retried quietly

        broker.write_acl(allowed.replace("event/receipt", "event/#"))
        broker.reload()
        [count] = [e for e in erp.wait_for_seqs(3, ceiling=60) if e["seq"] == 2]
        assert count["type"] == "count"
        assert count["replayed"] is True
        poll(lambda: not plant.pending(), "the set-aside row marked published")
        poll(lambda: relay.state().set_aside == 0, "the relay to report nothing set aside")
        _wait_status_where(erp, lambda s: s["set_aside"] == 0)


def _edge(plant: Plant, *args: str) -> str:
    """Run an ``edge`` command on the plant's config in another process; its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "edge", *args, "--config", str(plant.config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_outbox_full_is_an_alarm_and_nothing_is_dropped(
    make_broker, make_plant, relays, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="edge.publish.relay")
    reader = f"user erp\ntopic read {PREFIX}/#\n\n"
    state_only = f"user edge\ntopic write {PREFIX}/status\ntopic write {PREFIX}/stock/#\n"
    broker = make_broker(users={"edge": "edge-pw", "erp": "erp-pw"}, acl=reader + state_only)
    secret = broker.directory / "edge-password"
    secret.write_text("edge-pw")
    plant = make_plant(broker, username="edge", password_file=str(secret), outbox_alarm_rows=5)
    with subscribed(broker, f"{PREFIX}/#", username="erp", password="erp-pw") as watcher:
        relay = relays(plant)
        _wait_status(watcher, "online")
        plant.receive_many("BOLT-M6", 8)  # every event refused: 8 unsent, alarm at 5
        relay.relay.wake()
        full = _wait_status_where(watcher, lambda s: s["outbox_full"])
        assert full["backlog"] == 8
        assert "OUTBOX FULL" in relay.relay.status_line()
        plant.receive("NUT-M6")  # an alarm, not a limit: commits go on
        alarms = [r for r in caplog.records if "outbox full" in r.getMessage()]
        assert len(alarms) == 1

        broker.write_acl(reader + state_only + f"topic write {PREFIX}/event/#\n")
        broker.reload()
        poll(lambda: not plant.pending(), "the backlog delivered", ceiling=60)
        cleared = _wait_status_where(watcher, lambda s: not s["outbox_full"])
        assert cleared["state"] == "online"
        poll(lambda: not relay.state().outbox_full, "the alarm cleared in the STATUS line")


def test_published_rows_are_purged_after_the_retention(make_broker, make_plant, relays) -> None:
    broker = make_broker()
    broker.stop()  # the purge does not need the broker
    plant = make_plant(broker, retention_days=7)
    plant.receive_many("BOLT-M6", 3)
    old = datetime.now(UTC) - timedelta(days=8)
    outbox.record_answers(plant.engine, published=[1, 2], refused={}, stock={}, at=old)
    outbox.record_answers(plant.engine, published=[3], refused={}, stock={}, at=datetime.now(UTC))
    plant.receive("NUT-M6")  # seq 4, unsent
    relays(plant)
    poll(lambda: [row.seq for row in plant.outbox()] == [3, 4], "rows 1 and 2 purged")
    plant.receive("NUT-M6")
    assert plant.last_seq() == 5  # seq comes from its counter, not from the table


def test_mqtt_3_1_1_delivers_too(make_broker, make_plant, relays) -> None:
    broker = make_broker()
    plant = make_plant(broker, protocol="3.1.1")
    with subscribed(broker, f"{PREFIX}/#") as erp:
        relay = relays(plant)
        _wait_status(erp, "online")
        plant.receive("WASHER-6", "3")
        relay.relay.wake()
        [event] = erp.wait_for_seqs(plant.last_seq())
    assert event["quantity"] == 3
    # Mosquitto logs its own protocol enum: p2 is MQTT 3.1.1 (p5 would be MQTT 5).
    assert "(p2," in broker.log_text()
    relay.stop()


def _wait_status_where(subscriber: Subscriber, check: Any) -> dict[str, Any]:
    def matching(messages: list[Received]) -> dict[str, Any] | None:
        statuses = [m.json() for m in messages if m.topic == STATUS]
        return statuses[-1] if statuses and check(statuses[-1]) else None

    return subscriber.wait_for(matching, "a matching status")


def test_tls_with_a_test_ca_and_client_certificates(
    make_broker, make_plant, relays, test_ca, tmp_path
) -> None:
    server = test_ca.issue("broker", server=True)
    broker = make_broker(tls=BrokerTls(test_ca.cert, server, require_certificate=True))
    edge_pair = test_ca.issue("edge", server=False)
    erp_pair = test_ca.issue("erp", server=False)
    plant = make_plant(
        broker, tls_ca=str(test_ca.cert), tls_cert=str(edge_pair.cert), tls_key=str(edge_pair.key)
    )
    with subscribed(broker, f"{PREFIX}/#", tls=ClientTls(test_ca.cert, erp_pair)) as erp:
        relay = relays(plant)
        _wait_status(erp, "online")
        plant.receive("BOLT-M6", "1")
        relay.relay.wake()
        [event] = erp.wait_for_seqs(plant.last_seq())
    assert event["part"] == "BOLT-M6"
    relay.stop()

    # A broker whose certificate another CA signed is refused.
    stranger = TestCA(tmp_path / "other-ca")
    impostor = make_plant(broker, tls_ca=str(stranger.cert), tls_cert=str(edge_pair.cert),
                          tls_key=str(edge_pair.key))  # fmt: skip
    refused = relays(impostor)
    poll(lambda: refused.state().failed_attempts >= 1, "a failed TLS handshake")
    assert "certificate" in (refused.state().last_error or "")
    assert not refused.state().connected


def test_broker_flapping_while_scans_continue(make_broker, make_plant, relays) -> None:
    flapping_s = 12  # the broker changes state every 2 s for 12 s (six flips)
    broker = make_broker(persistence=True)
    plant = make_plant(broker)
    with subscribed(broker, f"{PREFIX}/#", persistent=True, client_id="erp") as erp:
        broker.save()
        relay = relays(plant)
        relay.wait_connected()
        flips = 0
        with Stream(plant, relay, pace_s=0.02):
            end = time.monotonic() + flapping_s
            clock = threading.Event()
            while time.monotonic() < end:
                clock.wait(2)  # the scenario: the broker changes state every 2 s
                if broker.running:
                    broker.stop()
                else:
                    broker.start()
                flips += 1
            if not broker.running:
                broker.start()
        events = erp.wait_for_seqs(plant.last_seq(), ceiling=90)
        poll(lambda: not plant.pending(), "every row marked published")
    _assert_complete(plant, events)
    assert relay.thread.is_alive()
    relay.stop()  # no deadlock: it stops when asked
    print(
        f"\nflapping {flapping_s} s ({flips} flips): {plant.last_seq()} events, "
        f"{len(events) - plant.last_seq()} duplicates received"
    )
