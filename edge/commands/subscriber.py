"""The commands subscriber: a paho client with a persistent session of its own.

It subscribes (QoS 1) to ``{prefix}/cmd/+`` and ``backflush/{site}/cmd/+``
in a session the broker keeps while the node is away (MQTT 5: Clean Start
off and a Session Expiry Interval; MQTT 3.1.1: clean session off), so
commands sent meanwhile arrive when it returns. It is a client apart from the
relay's: the relay keeps its rule of a fresh clean session per connection for
the node's own publishes, this one keeps the session for what the node receives.

**PUBACK after the commit.** Acknowledgements are manual (paho's
``manual_ack_set``): a command is acknowledged only once its effect, its row
in the ``commands`` table and its ``command-result`` event are committed (and
its answer handed to paho). A crash or a lost connection before that leaves
the command unacknowledged in the session, and the broker delivers it again;
its ``command_id`` then makes it a ``duplicate`` that changes nothing.
PUBACKs go in the order the commands arrived (MQTT requires it for QoS 1):
commands are handled one at a time, on this thread.

**One thread decides, paho's thread only talks** (as in the relay): paho's
callbacks put what arrived in a queue; :meth:`CommandSubscriber.run` applies
commands, publishes answers and acknowledges, so a long command never holds up
paho's keep-alive.

Subscribed with Retain As Published (MQTT 5), so a retained command that
arrives live is recognised and refused; with Retain Handling "only for a new
subscription", a retained command left on the broker is refused once, not
after every reconnect.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.commands.apply import Answer, CommandHandler, Incoming
from edge.config import ConfigError, MqttConfig
from edge.publish.backoff import Backoff
from edge.publish.clients import paho_client
from edge.store.revisions import StorageError

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600  # how long the broker keeps the session (and commands) for us
FIRST_RETRY_S = 1.0
CONNACK_TIMEOUT_S = 10.0  # from the connect to the SUBACK: past it, connect again
WAIT_S = 0.25  # a stop is noticed at least this fast
STORAGE_RETRY_S = 1.0  # a command the database could not take is handled again after this


@dataclass(frozen=True, slots=True)
class _Connected:
    reason: ReasonCode
    session_present: bool


@dataclass(frozen=True, slots=True)
class _Gone:
    reason: str


@dataclass(frozen=True, slots=True)
class _Subscribed:
    refused: tuple[str, ...]  # the filters the broker refused, with its reason


_Inbox = queue.SimpleQueue[_Connected | _Gone | _Subscribed | mqtt.MQTTMessage]


class CommandSubscriber:
    """Receives commands until stopped; see the module docstring.

    ``topic_filters`` are subscribed after every CONNACK. ``run(stop)`` is the
    thread's target (the daemon runs it under restart-with-back-off supervision).
    """

    def __init__(
        self,
        handler: CommandHandler,
        settings: MqttConfig,
        *,
        client_id: str,
        topic_filters: tuple[str, ...],
    ) -> None:
        self.handler = handler
        self._settings = settings
        self._client_id = client_id
        self._filters = topic_filters
        self._v5 = settings.protocol == "5"
        self._backoff = Backoff(FIRST_RETRY_S, settings.reconnect_max_s)
        self.connected = threading.Event()
        self.handled = 0  # commands answered since start
        self._last_failure: str | None = None

    def status_line(self) -> str:
        state = "connected" if self.connected.is_set() else "not connected"
        return f"commands {state}, {self.handled} answered"

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            inbox: _Inbox = queue.SimpleQueue()
            client = self._connect(inbox)
            if client is not None:
                try:
                    self._serve(client, inbox, stop)
                finally:
                    self.connected.clear()
                    client.disconnect()
                    client.loop_stop()
            if not stop.is_set():
                stop.wait(self._backoff.next())
        log.info("commands subscriber stopped")

    # --- connecting ----------------------------------------------------------------------
    def _failed(self, reason: str) -> None:
        """A failed attempt: a warning when the reason is new, then quiet until it changes."""
        if reason != self._last_failure:
            log.warning("commands: %s; retrying with back-off", reason)
        else:
            log.debug("commands: %s", reason)
        self._last_failure = reason

    def _connect(self, inbox: _Inbox) -> mqtt.Client | None:
        settings = self._settings
        try:
            client = paho_client(settings, self._client_id, clean=False)
        except (ConfigError, OSError, ValueError) as error:
            self._failed(f"cannot build the MQTT client: {error}")
            return None
        client.manual_ack_set(True)

        def on_connect(
            _c: mqtt.Client,
            _u: object,
            flags: mqtt.ConnectFlags,
            reason: ReasonCode,
            _p: Properties | None,
        ) -> None:
            inbox.put(_Connected(reason, bool(flags.session_present)))

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            inbox.put(message)

        def on_disconnect(
            _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
        ) -> None:
            inbox.put(_Gone(str(reason)))

        def on_subscribe(
            _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: object
        ) -> None:
            refused = tuple(
                f"{topic_filter} ({code})"
                for topic_filter, code in zip(self._filters, codes, strict=False)
                if code.is_failure
            )
            inbox.put(_Subscribed(refused))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.on_disconnect = on_disconnect
        try:
            if self._v5:
                properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                properties.SessionExpiryInterval = SESSION_EXPIRY_S
                client.connect(settings.host, settings.port, settings.keepalive,
                               clean_start=False, properties=properties)  # fmt: skip
            else:
                client.connect(settings.host, settings.port, settings.keepalive)
        except (OSError, ValueError) as error:
            self._failed(f"cannot connect to {settings.host}:{settings.port}: {error}")
            return None
        client.loop_start()
        return client

    def _subscribe(self, client: mqtt.Client) -> None:
        if self._v5:
            options = SubscribeOptions(
                qos=1,
                retainAsPublished=True,
                retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB,
            )
            client.subscribe([(topic_filter, options) for topic_filter in self._filters])
        else:
            client.subscribe([(topic_filter, 1) for topic_filter in self._filters])

    # --- one connection ------------------------------------------------------------------
    def _serve(self, client: mqtt.Client, inbox: _Inbox, stop: threading.Event) -> None:
        deadline = time.monotonic() + CONNACK_TIMEOUT_S
        session = "new"
        while not stop.is_set():
            try:
                item = inbox.get(timeout=WAIT_S)
            except queue.Empty:
                if not self.connected.is_set() and time.monotonic() > deadline:
                    log.debug("commands: no CONNACK or SUBACK from the broker")
                    return
                continue
            if isinstance(item, _Gone):
                if self.connected.is_set():
                    log.warning("commands: lost the connection to the broker (%s)", item.reason)
                return
            if isinstance(item, _Connected):
                if item.reason.is_failure:
                    self._failed(f"the broker refused the connection: {item.reason}")
                    return
                self._backoff.reset()
                self._last_failure = None
                self._subscribe(client)
                session = "resumed" if item.session_present else "new"
                continue
            if isinstance(item, _Subscribed):
                if item.refused:
                    log.warning("commands: the broker refused the subscription to %s (its ACL?)",
                                ", ".join(item.refused))  # fmt: skip
                # Connected once the broker has the subscription (its SUBACK), not when
                # it was asked: a command sent in between would find no subscriber.
                self.connected.set()
                log.info("commands: subscribed to %s (session %s)", ", ".join(self._filters),
                         session)  # fmt: skip
                continue
            if not self._take(client, item, stop):
                return

    def _take(self, client: mqtt.Client, message: mqtt.MQTTMessage, stop: threading.Event) -> bool:
        """Handle one command, answer it and acknowledge it; False when stopped first."""
        incoming = Incoming(
            topic=message.topic,
            command_type=message.topic.rsplit("/", 1)[-1],
            payload=bytes(message.payload),
            retained=bool(message.retain),
        )
        while True:
            try:
                answer = self.handler.handle(incoming)
                break
            except StorageError as error:
                # Nothing was committed: the command is handled again, never acknowledged
                # unanswered. A stop leaves it in the broker's session for the next start.
                log.warning("commands: %s; the command is handled again", error)
                if stop.wait(STORAGE_RETRY_S):
                    return False
        self._respond(client, message, answer)
        if message.qos > 0:
            client.ack(message.mid, message.qos)
        self.handled += 1
        return True

    def _respond(self, client: mqtt.Client, message: mqtt.MQTTMessage, answer: Answer) -> None:
        """The answer to the request's Response Topic with its Correlation Data (MQTT 5)."""
        request = message.properties if self._v5 else None
        response_topic = getattr(request, "ResponseTopic", None) if request else None
        if not response_topic:
            return
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.PayloadFormatIndicator = 1
        properties.ContentType = "application/json"
        correlation = getattr(request, "CorrelationData", None)
        if correlation is not None:
            properties.CorrelationData = correlation
        try:
            client.publish(response_topic, answer.payload.encode("utf-8"), qos=1,
                           properties=properties)  # fmt: skip
        except ValueError as error:  # a response topic MQTT cannot carry (wildcards)
            log.warning("commands: cannot answer on %r: %s", response_topic, error)
