"""The relay's pure pieces: back-off, retries of refused rows, the PUBACK window, log limiting,
the replayed flag and the status message."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from edge.domain import exactjson
from edge.publish.backoff import Backoff, FailureLog, Retries
from edge.publish.status import RelayState, status_payload
from edge.publish.window import EventItem, StatusItem, StockItem, Window
from edge.store.outbox import Backlog


def test_backoff_doubles_from_one_second_to_the_ceiling_and_resets() -> None:
    backoff = Backoff(1, 60)
    assert [backoff.next() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next() == 1


def test_backoff_ceiling_below_the_first_delay_keeps_the_first() -> None:
    backoff = Backoff(1, 0.5)
    assert [backoff.next() for _ in range(3)] == [1, 1, 1]


def test_a_refused_key_waits_its_delay_then_is_handed_out_once() -> None:
    retries: Retries[int] = Retries(1, 8)
    assert retries.refused(7, now=100.0) is True
    assert 7 in retries
    assert retries.waiting(7)
    assert retries.due(100.5, limit=10) == []
    assert retries.due(101.0, limit=10) == [7]
    assert not retries.waiting(7)  # being tried: not handed out again
    assert retries.due(200.0, limit=10) == []


def test_each_refusal_doubles_the_delay_up_to_the_ceiling() -> None:
    retries: Retries[int] = Retries(1, 8)
    now = 0.0
    retries.refused(1, now)
    delays = []
    for _ in range(6):
        due_at = now
        while not retries.due(due_at, limit=1):
            due_at += 0.25
        delays.append(due_at - now)
        now = due_at
        assert retries.refused(1, now) is False
    assert delays == [1, 2, 4, 8, 8, 8]


def test_accepted_forgets_and_lost_connection_makes_tries_due_again() -> None:
    retries: Retries[str] = Retries(1, 8)
    retries.refused("a", 0)
    retries.refused("b", 0)
    assert retries.due(5, limit=1) == ["a"]  # the limit is respected
    retries.release_tries()
    assert sorted(retries.due(5, limit=5)) == ["a", "b"]
    assert retries.accepted("a") is True
    assert retries.accepted("a") is False
    assert len(retries) == 1


def test_window_counts_free_slots_and_pops_by_message_id() -> None:
    window = Window(3)
    window.add(1, EventItem(10, "p/event/receipt"))
    window.add(2, StockItem("BOLT", 4, "p/stock/BOLT"))
    assert window.free == 1
    assert window.pop(2) == StockItem("BOLT", 4, "p/stock/BOLT")
    assert window.pop(2) is None  # a PUBACK for something not (or no longer) in flight
    window.add(3, StatusItem("online", "p/status"))
    window.add(4, EventItem(11, "p/event/receipt"))
    assert window.free == 0
    assert len(window) == 3


def test_failure_log_reports_the_first_each_new_reason_and_a_reminder() -> None:
    failures = FailureLog(reminder_s=300)
    assert failures.failed("connection refused", 0) is not None
    assert failures.failed("connection refused", 1) is None
    assert failures.failed("connection refused", 3) is None
    assert failures.failed("Not authorized", 7) is not None
    assert failures.failed("Not authorized", 100) is None
    reminder = failures.failed("Not authorized", 307)
    assert reminder is not None
    assert "6 attempts" in reminder
    assert failures.count == 6
    assert failures.recovered(310) == "after 6 failed attempts in 310 s"
    assert failures.count == 0
    assert failures.recovered(311) is None


def test_status_payload_keeps_its_own_keys_over_extra_ones() -> None:
    payload = status_payload(
        "online",
        boot=7,
        version="0.1.0",
        site="plant-1",
        node="pack-edge-01",
        at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
        synced=True,
        backlog=Backlog(events=12, set_aside=1, stock=3),
        outbox_full=False,
        extra={"state": "forged", "scanners": 4},
    )
    assert payload == {
        "scanners": 4,
        "state": "online",
        "boot": 7,
        "version": "0.1.0",
        "site": "plant-1",
        "node": "pack-edge-01",
        "at": "2026-03-02T06:00:00.000Z",
        "clock_synced": True,
        "backlog": 12,
        "set_aside": 1,
        "outbox_full": False,
    }
    assert exactjson.loads(exactjson.dumps(payload))["backlog"] == 12


def test_state_line_for_the_systemd_status() -> None:
    assert RelayState(connected=True).line() == "mqtt connected, 0 events pending"
    line = RelayState(
        connected=False, pending=1_200_000, set_aside=2, outbox_full=True, failed_attempts=5
    ).line()
    assert line == (
        "mqtt DISCONNECTED, 1200000 events pending, 2 SET ASIDE, OUTBOX FULL, 5 failed attempts"
    )


def test_decimals_in_status_extra_are_written_exactly() -> None:
    payload = status_payload(
        "offline",
        boot=1,
        version="v",
        site="s",
        node="n",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        synced=None,
        backlog=None,
        outbox_full=True,
        extra={"free_mb": Decimal("0.1")},
    )
    assert '"free_mb":0.1' in exactjson.dumps(payload)
    assert payload["backlog"] is None
