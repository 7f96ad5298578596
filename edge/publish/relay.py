"""OutboxRelay: the relay thread, from outbox rows to the MQTT broker.

The loop connects with back-off, serves one connection at a time (a
:class:`~edge.publish.session.Session`, paho's network loop driven from this
thread), decides what each broker answer means (published, or set aside and
retried), has the answers recorded (:class:`~edge.publish.recorder.AnswerRecorder`)
and the outbox kept (:class:`~edge.publish.upkeep.OutboxUpkeep`). How the
pieces fit together is told in :mod:`edge.publish`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.config import MqttConfig
from edge.domain import exactjson
from edge.publish.announcer import Announcer
from edge.publish.backoff import Backoff, FailureLog, Retries
from edge.publish.connection import (
    Connection,
    Failed,
    PackedProperties,
    install_paho_log_filter,
    json_properties,
    open_connection,
)
from edge.publish.losses import BLAMED, LossWatch
from edge.publish.recorder import AnswerRecorder
from edge.publish.session import POLL_S, Session
from edge.publish.status import RelayState
from edge.publish.topics import status_topic
from edge.publish.upkeep import COUNT_EVERY_S, OutboxUpkeep
from edge.publish.wakeup import Wakeup
from edge.publish.window import EventItem, InFlight, StockItem, Window, loss_key
from edge.store import outbox
from edge.store.database import driver_reason
from edge.store.outbox import Backlog

__all__ = ["OutboxRelay"]

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 2.0  # how long a clean stop waits for outstanding PUBACKs
FIRST_RETRY_S = 1.0  # first reconnect delay, and first retry of a refused row
SET_ASIDE_MAX_S = 300.0  # ceiling of the retry delay of a refused row
FAILURE_REMINDER_S = 300.0  # an unchanged connection failure is logged again this often


class OutboxRelay:
    """Publishes the outbox to MQTT until stopped. See :mod:`edge.publish` for the design.

    The daemon builds one, runs :meth:`run` in a thread, calls :meth:`wake`
    right after each commit that wrote outbox rows, and reads :meth:`state`
    (or :meth:`status_line`) for its STATUS line. Rows written by other
    processes are found by polling every :data:`POLL_S` seconds.
    """

    def __init__(
        self,
        engine: Engine,
        mqtt_config: MqttConfig,
        *,
        topic_prefix: str,
        client_id: str,
        site: str,
        node: str,
        boot: int,
        version: str,
        status_extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        install_paho_log_filter()
        self._engine = engine
        self._mqtt = mqtt_config
        self._client_id = client_id
        self._status_topic = status_topic(topic_prefix)
        # Ends the relay thread's wait on the broker's socket; set from any thread.
        self._wakeup = Wakeup()
        self._committed = threading.Event()  # set by wake(), cleared when the outbox is read
        self._republish = threading.Event()  # set by request_republish(), from any thread
        self._state_lock = threading.Lock()
        self._state = RelayState()
        self._backoff = Backoff(FIRST_RETRY_S, mqtt_config.reconnect_max_s)
        self._failures = FailureLog(FAILURE_REMINDER_S)
        self._event_retries: Retries[int] = Retries(FIRST_RETRY_S, SET_ASIDE_MAX_S)
        self._stock_retries: Retries[str] = Retries(FIRST_RETRY_S, SET_ASIDE_MAX_S)
        self._refused_status_logged = False
        self._losses = LossWatch()
        self._session: Session | None = None  # the connection being served
        self._window_limit = 1  # that connection's window when not careful
        self._upkeep = OutboxUpkeep(
            engine,
            retention_days=mqtt_config.retention_days,
            alarm_rows=mqtt_config.outbox_alarm_rows,
        )
        self._announcer = Announcer(boot=boot, version=version, site=site, node=node,
                                    upkeep=self._upkeep, extra=status_extra)  # fmt: skip
        self._storage_problem: str | None = None
        self._recorder = AnswerRecorder(
            engine,
            wake=self._wakeup.set,
            on_written=self._storage_recovered,
            on_failed=self._storage_failed,
        )
        self._properties: PackedProperties | None = None
        if mqtt_config.protocol == "5":
            self._properties = json_properties(PacketTypes.PUBLISH)

    # --- the daemon's side -----------------------------------------------------------
    def wake(self) -> None:
        """New outbox rows were committed: look now instead of at the next poll."""
        self._committed.set()
        self._wakeup.set()

    def request_republish(self) -> None:
        """Publish the retained status again now (a ``republish`` command); thread-safe.

        Stock states are made due again in the database by the command itself.
        """
        self._republish.set()
        self._wakeup.set()

    def state(self) -> RelayState:
        with self._state_lock:
            return self._state

    def status_line(self) -> str:
        return self.state().line()

    def run(self, stop: threading.Event) -> None:
        """Connect, publish and reconnect until ``stop`` is set; then say offline and disconnect."""
        self._recorder.start()
        try:
            self._run(stop)
        finally:
            self._recorder.close()
        log.info("relay stopped")

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            connection = None
            try:
                self._safely(lambda: self._housekeeping(None))
                connection = self._connect(stop)
                if connection is not None:
                    self._serve(connection, stop)
            except Exception:  # the relay must outlive any one failure
                log.exception("relay failure; reconnecting")
            finally:
                if connection is not None:
                    connection.close()
                self._recorder.record(now=True)
                self._update_state(connected=False)
            if not stop.is_set():
                self._wait_to_reconnect(stop)

    # --- connecting ------------------------------------------------------------------
    def _connect(self, stop: threading.Event) -> Connection | None:
        """One connection attempt, up to the CONNACK; None (logged, counted) when it fails."""
        # The Last Will is published by the broker whenever the connection dies.
        will = self._announcer.will()
        outcome = open_connection(
            self._mqtt,
            self._client_id,
            will_topic=self._status_topic,
            will=exactjson.dumps(will),
            wakeup=self._wakeup,
            stop=stop,
        )
        if isinstance(outcome, Failed):
            self._failed(outcome.reason)
            return None
        return outcome

    def _failed(self, reason: str) -> None:
        message = self._failures.failed(reason, time.monotonic())
        if message is not None:
            log.warning("%s; retrying with back-off up to %g s", message, self._backoff.ceiling)
        else:
            log.debug("cannot connect to the broker: %s", reason)
        self._update_state(connected=False, last_error=reason, failed_attempts=self._failures.count)

    def _wait_to_reconnect(self, stop: threading.Event) -> None:
        delay = self._backoff.next()
        self._update_state(retry_delay_s=delay)
        deadline = time.monotonic() + delay
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            stop.wait(min(remaining, COUNT_EVERY_S))
            self._safely(lambda: self._housekeeping(None))
        self._update_state(retry_delay_s=None)

    # --- one connection --------------------------------------------------------------
    def _serve(self, connection: Connection, stop: threading.Event) -> None:
        settings = self._mqtt
        limit, payload_limit = connection.limits(settings, self._properties)
        self._window_limit = limit
        now = time.monotonic()
        self._backoff.reset()
        recovered = self._failures.recovered(now)
        self._event_retries.release_tries()
        self._stock_retries.release_tries()
        session = Session(
            connection,
            Window(1 if self._losses.careful else limit),
            engine=self._engine,
            replay_cutoff=outbox.newest_seq(self._engine),
            stock_parts=outbox.stock_parts(self._engine),
            committed=self._committed,
            event_retries=self._event_retries,
            stock_retries=self._stock_retries,
            properties=self._properties,
            limit=payload_limit,
            status_topic=self._status_topic,
            status=self._announcer.status,
            accept=self._accept,
            refuse=self._refuse,
        )
        self._session = session
        self._upkeep.count_soon()
        self._housekeeping(session)
        backlog = self._upkeep.backlog or Backlog(0, 0, 0)
        log.info(
            "connected to %s:%d (MQTT %s) as %s%s; backlog: %d events (%d set aside), "
            "%d stock states",
            settings.host,
            settings.port,
            settings.protocol,
            self._client_id,
            f" {recovered}" if recovered else "",
            backlog.events,
            backlog.set_aside,
            backlog.stock,
        )
        self._update_state(
            connected=True,
            failed_attempts=0,
            retry_delay_s=None,
            last_error=self._storage_problem,
        )
        wait_s = 0.0
        while True:
            # The relay thread's only wait: PUBACKs, a wake-up, or the next batch
            # of answers to record. Publishes are written inside fill.
            connection.serve(self._wakeup, wait_s)
            if not session.take_answers():
                self._blame(session)
                log.warning(
                    "lost the connection to the broker (%s); %d publishes awaiting PUBACK "
                    "will be sent again after reconnecting",
                    session.lost,
                    len(session.window),
                )
                self._update_state(connected=False, last_error=f"connection lost: {session.lost}")
                return
            if stop.is_set():
                self._shut_down(session)
                return
            self._safely(lambda: self._housekeeping(session))
            if self._republish.is_set():
                self._republish.clear()
                session.publish_status("online")
            if not self._safely(session.fill):
                # Retries handed out by this pass may not have been published.
                self._event_retries.release_tries()
                self._stock_retries.release_tries()
            # Written after the window is refilled: the broker keeps answering the
            # publishes in flight while the commit runs.
            self._recorder.pace(reading_backlog=session.reading_backlog, sent=not session.window)
            self._recorder.record()
            wait_s = self._recorder.wait_s(POLL_S) if session.lost is None else 0.0

    def _blame(self, session: Session) -> None:
        """A lost connection: set aside what it is blamed on (see edge.publish.losses)."""
        in_flight = session.window.in_flight()
        keyed = [(loss_key(item), sent_at) for item, sent_at in in_flight]
        blamed = self._losses.lost(keyed, time.monotonic())
        for item, _sent_at in in_flight:
            if loss_key(item) in blamed:
                blamed.remove(loss_key(item))  # once per row, whichever part comes first
                self._refuse(item, BLAMED)
        if self._losses.careful:
            log.info("connection lost with %d publishes in flight; sending one at a time",
                     len(in_flight))  # fmt: skip

    def _accept(self, item: InFlight) -> None:
        self._recorder.answered()
        self._losses.acknowledged(loss_key(item))
        if not self._losses.careful and self._session is not None:
            self._session.window.limit = self._window_limit
        if isinstance(item, EventItem):
            self._recorder.published(item.seq)
            if self._event_retries.accepted(item.seq):
                log.info("event seq %d on %s accepted after being set aside", item.seq, item.topic)
        elif isinstance(item, StockItem):
            self._recorder.stock_published(item.part, item.version)
            if self._stock_retries.accepted(item.part):
                log.info("stock state on %s accepted after being set aside", item.topic)

    def _refuse(self, item: InFlight, reason: str) -> None:
        self._recorder.answered()
        now = time.monotonic()
        error = f"{item.topic}: {reason}"
        if isinstance(item, EventItem):
            self._recorder.refused(item.seq, error)
            if self._event_retries.refused(item.seq, now):
                log.warning(
                    "event seq %d set aside, later events go on; retrying with back-off: %s",
                    item.seq,
                    error,
                )
            else:
                log.debug("event seq %d refused again: %s", item.seq, error)
        elif isinstance(item, StockItem):
            if self._stock_retries.refused(item.part, now):
                log.warning("stock state set aside; retrying with back-off: %s", error)
        elif not self._refused_status_logged:
            self._refused_status_logged = True
            log.warning("status message refused: %s", error)
        self._update_state(last_error=error)

    def _shut_down(self, session: Session) -> None:
        """Clean stop: retained offline, a short wait for outstanding PUBACKs, DISCONNECT."""
        session.publish_status("offline", "shutdown")
        session.drain(self._wakeup, SHUTDOWN_WAIT_S)
        self._recorder.record(now=True)
        if len(session.window):
            log.info(
                "disconnecting with %d publishes unacknowledged; the next start sends them again",
                len(session.window),
            )
        else:
            log.info("disconnecting from the broker")

    # --- the database ----------------------------------------------------------------
    def _housekeeping(self, session: Session | None) -> None:
        now = time.monotonic()
        purged = self._upkeep.purge_if_due(now)
        if purged:
            days = self._mqtt.retention_days
            log.info("purged %d published events older than %g days", purged, days)
        count = self._upkeep.count_if_due(now)
        if count is None:
            return
        backlog, full = count.backlog, self._upkeep.outbox_full
        if count.full_changed and full:
            log.warning(
                "outbox full: %d unsent events exceed the alarm threshold of %d "
                "(nothing is dropped; is the broker reachable?)",
                backlog.events,
                self._mqtt.outbox_alarm_rows,
            )
        elif count.full_changed:
            log.info("outbox below its alarm threshold again (%d unsent)", backlog.events)
        if self._recorder.idle:
            # Only reads were due, and they worked. With answers still waiting to
            # be written (a full disk fails writes, not reads), recovery is a
            # successful write, not this count: see AnswerRecorder.record.
            self._storage_recovered()
        self._update_state(
            pending=backlog.events,
            set_aside=backlog.set_aside,
            stock_pending=backlog.stock,
            outbox_full=full,
        )
        if session is not None:
            session.check_status(now, alarm_changed=count.alarm_changed)

    def _safely(self, action: Callable[[], None]) -> bool:
        """Run a database step; a storage error is logged once and retried later."""
        try:
            action()
        except SQLAlchemyError as error:
            self._storage_failed(error)
            return False
        return True

    def _storage_recovered(self) -> None:
        if self._storage_problem is not None:
            log.info("the database can be used again")
            self._storage_problem = None

    def _storage_failed(self, error: SQLAlchemyError) -> None:
        text = f"database: {type(error).__name__}: {driver_reason(error)}"
        if text != self._storage_problem:
            log.warning("%s; the relay retries", text)
        self._storage_problem = text
        self._update_state(last_error=text)

    def _update_state(self, **changes: Any) -> None:
        with self._state_lock:
            self._state = dataclasses.replace(self._state, **changes)
