"""What one connection sends: the status, retries, events in ``seq`` order and stock.

A :class:`Session` lives from a CONNACK to the loss (or close) of that
connection and fills its publish window from the outbox. Each connection
has a clean MQTT session, so after its CONNACK the session publishes again
every unacknowledged row from the database, the retained status and every
stock state (see :mod:`edge.publish`). It hands each broker answer on to the
relay, which decides what it means and has it recorded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from sqlalchemy import Engine

from edge.domain import exactjson
from edge.domain.payloads import mark_replayed
from edge.publish.backoff import Retries
from edge.publish.connection import Connection, Gone, Puback, reason_text
from edge.publish.parts import PayloadLimit, Unsplittable, split_event, too_large
from edge.publish.wakeup import Wakeup
from edge.publish.window import EventItem, InFlight, StatusItem, StockItem, Window
from edge.store import outbox
from edge.store.outbox import OutboxRow, StockRow

POLL_S = 0.5  # the outbox is read at least this often (rows from other processes)
READ_AHEAD = 200  # outbox rows read per query
STATUS_MIN_INTERVAL_S = 5.0  # a changed status is republished at most this often
# What paho's publish() says about the one message; any other error means the connection.
MESSAGE_ERRORS = frozenset(
    {MQTTErrorCode.MQTT_ERR_QUEUE_SIZE, MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE,
     MQTTErrorCode.MQTT_ERR_INVAL}
)  # fmt: skip
REPLAYED_SIZE = len(mark_replayed('{"a":1}')) - len('{"a":1}')  # bytes the flag adds


class Session:
    """The publishes of one connection, up to its window; see the module docstring.

    ``committed`` is set by the relay's ``wake`` (rows were committed) and
    cleared here when the outbox is read. The retries outlive the session: a
    row set aside stays set aside across connections. ``status`` builds the
    status message for a state and an optional reason. ``accept`` and
    ``refuse`` are given each broker answer, for a row split into parts once
    every part is answered (``refuse`` also gets a message that cannot be
    sent: too large for ``limit`` and not splittable, or one paho refuses).
    """

    def __init__(
        self,
        connection: Connection,
        window: Window,
        *,
        engine: Engine,
        replay_cutoff: int,
        stock_parts: Iterable[str],
        committed: threading.Event,
        event_retries: Retries[int],
        stock_retries: Retries[str],
        properties: Properties | None,
        limit: PayloadLimit,
        status_topic: str,
        status: Callable[[str, str | None], dict[str, Any]],
        accept: Callable[[InFlight], None],
        refuse: Callable[[InFlight, str], None],
    ) -> None:
        self.connection = connection
        self.window = window
        self.lost: str | None = None  # why the connection is going away
        self._engine = engine
        self._committed = committed
        self._event_retries = event_retries
        self._stock_retries = stock_retries
        self._properties = properties
        self._limit = limit
        self._limits: dict[str, int] = {}  # topic -> the largest payload it takes
        self._parts_left: dict[int, int] = {}  # seq -> parts of that row awaiting PUBACK
        self._parts_refused: set[int] = set()  # rows a part of which was refused
        self._status_topic = status_topic
        self._status = status
        self._accept = accept
        self._refuse = refuse
        # The in-order walk of the outbox on this connection.
        self._replay_cutoff = replay_cutoff  # rows up to this seq were committed before the CONNACK
        self._cursor = 0  # the last seq read
        self._rows: deque[OutboxRow] = deque()  # read, not yet published
        self._caught_up = False  # the last read found every committed row
        self.reading_backlog = False  # the last read was full: more rows were waiting
        self._next_look = 0.0  # when to look for rows committed by other processes
        # Stock states: all of them again after the CONNACK, then each change.
        self._stock_queue: deque[str] = deque(stock_parts)  # parts to republish
        self._stock_changes: deque[StockRow] = deque()  # changed, not yet sent
        self._stock_scan_due = True
        self._stock_sent: dict[str, int] = {}  # part -> version published
        # The retained status.
        self._status_due = True
        self._last_status: dict[str, Any] | None = None
        self._last_status_at = 0.0

    def take_answers(self) -> bool:
        """Hand on what paho's callbacks put in the inbox; False once the connection is gone."""
        inbox = self.connection.inbox
        while inbox:
            message = inbox.popleft()
            if isinstance(message, Puback):
                item = self.window.pop(message.mid)
                if item is None:
                    continue
                if message.reason.is_failure:
                    self._refused(item, f"refused by the broker: {reason_text(message.reason)}")
                elif self._last_part(item):
                    self._accept(item)
            elif isinstance(message, Gone):
                self.lost = message.reason
        return self.lost is None

    def drain(self, wakeup: Wakeup, within_s: float) -> None:
        """Wait up to ``within_s`` for the PUBACKs of what is in flight (a clean stop)."""
        deadline = time.monotonic() + within_s
        while len(self.window) and time.monotonic() < deadline:
            self.connection.serve(wakeup, within_s / 20)
            if not self.take_answers():
                break

    def fill(self) -> None:
        """Publish what is waiting, up to the window: status, retries, events and stock."""
        if self.lost is not None:
            return
        now = time.monotonic()
        if self._committed.is_set() or now >= self._next_look:
            # Something was committed (wake), or it is time to look for rows that
            # other processes committed: read the outbox again.
            self._committed.clear()
            self._next_look = now + POLL_S
            self._caught_up = False
            self._stock_scan_due = True
        window = self.window
        if self._status_due and window.free:
            self.publish_status("online")
        if window.free and len(self._event_retries):
            due = self._event_retries.due(now, window.free)
            rows = {row.seq: row for row in outbox.unpublished_by_seq(self._engine, due)}
            for seq in due:
                row = rows.get(seq)
                if row is None:  # published meanwhile, or purged
                    self._event_retries.accepted(seq)
                elif not self._publish_event(row):
                    return
        if window.free and len(self._stock_retries):
            due_parts = self._stock_retries.due(now, window.free)
            for part in due_parts:
                self._stock_sent.pop(part, None)
            for stock_row in outbox.stock_rows(self._engine, due_parts):
                if not self._publish_stock(stock_row):
                    return
        # Events and stock share the window; while both wait, stock gets half. New
        # events go out before the stock states are read, so their PUBACKs are on the
        # way while the relay reads and publishes stock.
        stock_waiting = bool(self._stock_queue or self._stock_changes)
        reserve = window.free // 2 if stock_waiting or self._stock_scan_due else 0
        filled = self._fill_events(window.free - reserve)
        if self._stock_scan_due and window.free and self.lost is None:
            self._stock_scan_due = False
            self._stock_changes = deque(
                row
                for row in outbox.stock_changed(self._engine)
                if row.version > self._stock_sent.get(row.part, 0)
            )
        if not self._fill_stock():
            return
        if filled and window.free:
            self._fill_events(window.free)

    def publish_status(self, state: str, reason: str | None = None) -> bool:
        """Publish the retained status now; False when the connection is going away."""
        payload = self._status(state, reason)
        self._status_due = False
        self._last_status = {key: value for key, value in payload.items() if key != "at"}
        self._last_status_at = time.monotonic()
        item = StatusItem(state, self._status_topic)
        return self._publish(exactjson.dumps(payload), retain=True, item=item)

    def check_status(self, now: float, *, alarm_changed: bool) -> None:
        """Make the status due again if it changed since it was published.

        A change waits until STATUS_MIN_INTERVAL_S after the last status, so a
        busy line does not flood the topic; a change of alarm goes out at once.
        """
        if self._last_status is None:
            return
        current = {k: v for k, v in self._status("online", None).items() if k != "at"}
        waited = now - self._last_status_at >= STATUS_MIN_INTERVAL_S
        if current != self._last_status and (waited or alarm_changed):
            self._status_due = True

    def _last_part(self, item: InFlight) -> bool:
        """A successful PUBACK: True when it completes its row (or is not a part)."""
        if not isinstance(item, EventItem) or item.parts == 1:
            return True
        if item.seq in self._parts_refused:
            return False
        left = self._parts_left.get(item.seq, 1) - 1
        self._parts_left[item.seq] = left
        return left <= 0

    def _refused(self, item: InFlight, reason: str) -> None:
        """Hand on a refusal, once per row however many of its parts are refused."""
        if isinstance(item, EventItem) and item.parts > 1:
            if item.seq in self._parts_refused:
                return
            self._parts_refused.add(item.seq)
        self._refuse(item, reason)

    def _limit_for(self, topic: str) -> int:
        limit = self._limits.get(topic)
        if limit is None:
            limit = self._limits[topic] = self._limit.for_topic(topic)
        return limit

    def _publish(self, payload: str, *, retain: bool, item: InFlight) -> bool:
        """Hand one QoS 1 message to paho; False when the connection is going away.

        A message paho will not take (a topic or payload MQTT cannot carry, a
        full queue) is refused like one the broker refused: set aside, and the
        messages behind it go on.
        """
        data = payload.encode("utf-8")
        if retain and len(data) > self._limit_for(item.topic):
            # A retained state is the latest value whole; it is never split.
            source = self._limit.source(item.topic)
            self._refused(item, too_large(len(data), self._limit_for(item.topic), source))
            return True
        try:
            info = self.connection.client.publish(
                item.topic, data, qos=1, retain=retain, properties=self._properties
            )
        except ValueError as error:
            self._refused(item, f"not publishable: {error}")
            return True
        if info.rc in MESSAGE_ERRORS:
            self._refused(item, f"not publishable: {mqtt.error_string(info.rc)}")
            return True
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:  # the connection is gone
            self.lost = self.lost or mqtt.error_string(info.rc)
            return False
        self.window.add(info.mid, item, time.monotonic())
        return True

    def _fill_events(self, budget: int) -> bool:
        """Publish unpublished rows in seq order; True when the budget ran out first.

        Rows are read ahead in batches of :data:`READ_AHEAD` and kept in the
        session, so a long backlog costs one query per batch, and none once
        every committed row has been read (until a wake or the next poll).
        """
        while budget > 0 and self.lost is None:
            if not self._rows:
                if self._caught_up:
                    return False
                rows = outbox.unpublished_after(self._engine, self._cursor, READ_AHEAD)
                self._caught_up = len(rows) < READ_AHEAD
                self.reading_backlog = not self._caught_up
                if not rows:
                    return False
                self._rows.extend(rows)
                self._cursor = rows[-1].seq
            row = self._rows.popleft()
            if row.seq in self._event_retries:
                continue  # set aside: its retries come from Retries
            if not self._publish_event(row):
                return False
            budget -= 1
        return budget <= 0

    def _publish_event(self, row: OutboxRow) -> bool:
        # Committed before this connection's CONNACK, or sent before: from the backlog.
        replayed = row.seq <= self._replay_cutoff or row.attempts > 0
        limit = self._limit_for(row.topic)
        parts = split_event(row.payload, limit, reserve=REPLAYED_SIZE if replayed else 0)
        if isinstance(parts, Unsplittable):
            size = len(row.payload.encode("utf-8")) + (REPLAYED_SIZE if replayed else 0)
            reason = too_large(size, limit, self._limit.source(row.topic))
            self._refused(EventItem(row.seq, row.topic), f"{reason} and cannot be split: "
                          f"{parts.reason}")  # fmt: skip
            return True
        count = len(parts)
        if count > 1:
            self._parts_left[row.seq] = count
            self._parts_refused.discard(row.seq)
        for index, text in enumerate(parts):
            item = EventItem(row.seq, row.topic, index, count)
            if not self._publish(mark_replayed(text) if replayed else text, retain=False,
                                 item=item):  # fmt: skip
                return False
        return True

    def _fill_stock(self) -> bool:
        window = self.window
        while self._stock_queue and window.free:
            parts = [
                self._stock_queue.popleft() for _ in range(min(window.free, len(self._stock_queue)))
            ]
            for row in outbox.stock_rows(self._engine, parts):
                newer = row.version > self._stock_sent.get(row.part, 0)
                if newer and not self._publish_stock(row):
                    return False
        while self._stock_changes and window.free:
            row = self._stock_changes.popleft()
            if row.version <= self._stock_sent.get(row.part, 0):
                continue  # this version is on its way already
            if self._stock_retries.waiting(row.part):
                continue
            if not self._publish_stock(row):
                return False
        return True

    def _publish_stock(self, row: StockRow) -> bool:
        self._stock_sent[row.part] = row.version
        item = StockItem(row.part, row.version, row.topic)
        return self._publish(row.payload, retain=True, item=item)
