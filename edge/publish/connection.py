"""The paho side of the relay: one client per connection, and what its callbacks hand over.

:func:`open_connection` builds a paho client (protocol, Last Will, credentials,
TLS), connects and waits for the CONNACK. The client never reconnects by
itself (``reconnect_on_failure=False``) and is thrown away with its
connection, so paho never re-sends its own copies of unacknowledged messages.
paho's network thread reads and writes the socket; its callbacks only put
:class:`Connack`, :class:`Puback` and :class:`Gone` into the connection's inbox
and wake the relay thread, which decides everything.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import ConfigError, MqttConfig
from edge.publish.clients import paho_client, paho_log

CONNACK_TIMEOUT_S = 10.0
STOP_CHECK_S = 0.5  # while waiting for the CONNACK, a stop is noticed this fast


def _not_paho_noise(record: logging.LogRecord) -> bool:
    # paho 2.2 logs this at ERROR each time its network thread ends after a clean
    # DISCONNECT (its loop runs once more on the closed socket); it means nothing.
    return not str(record.msg).startswith("Client is not connected")


def install_paho_log_filter() -> None:
    """Keep paho's meaningless "Client is not connected" line out of the log.

    Called when a relay is built rather than at import, so importing this
    module changes no logger; calling it again adds nothing.
    """
    if _not_paho_noise not in paho_log.filters:
        paho_log.addFilter(_not_paho_noise)


@dataclass(frozen=True, slots=True)
class Connack:
    """The broker's answer to CONNECT."""

    reason: ReasonCode
    receive_maximum: int | None


@dataclass(frozen=True, slots=True)
class Puback:
    """The broker's answer to the publish with paho message id ``mid``."""

    mid: int
    reason: ReasonCode


@dataclass(frozen=True, slots=True)
class Gone:
    """The connection ended; ``reason`` says how, for the log."""

    reason: str


Message = Connack | Puback | Gone


@dataclass(frozen=True, slots=True)
class Failed:
    """A connection attempt that ended before a CONNACK; ``reason`` says why, for the log."""

    reason: str


class Connection:
    """One paho client and its network thread: one connection, never reconnected."""

    def __init__(self, client: mqtt.Client, inbox: queue.SimpleQueue[Message]) -> None:
        self.client = client
        self.inbox = inbox
        self.started = False
        self.receive_maximum: int | None = None  # from the CONNACK (MQTT 5)

    def start(self) -> None:
        self.client.loop_start()
        self.started = True

    def close(self) -> None:
        # DISCONNECT is sent only when still connected; then the broker drops the
        # Last Will. After a loss this just lets the network thread finish.
        self.client.disconnect()
        if self.started:
            self.client.loop_stop()


def describe(error: BaseException) -> str:
    """A connection error in a few words for the log line and the STATUS line."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate check failed: {error.verify_message or error}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def json_properties(packet_type: int) -> Properties:
    """MQTT 5 properties saying the payload is UTF-8 JSON."""
    properties = Properties(packet_type)  # type: ignore[no-untyped-call]
    properties.PayloadFormatIndicator = 1
    properties.ContentType = "application/json"
    return properties


def reason_text(reason: ReasonCode) -> str:
    """An MQTT reason code as its name and number, e.g. ``Not authorized (0x87)``."""
    return f"{reason.getName()} (0x{reason.value:02x})"


def open_connection(
    settings: MqttConfig,
    client_id: str,
    *,
    will_topic: str,
    will: str,
    wake: Callable[[], None],
    stop: threading.Event,
) -> Connection | Failed | None:
    """One connection attempt, up to the CONNACK; None when ``stop`` was set meanwhile.

    ``will`` is the Last Will's JSON text, published retained on ``will_topic``;
    ``wake`` is called on paho's thread each time something is put in the inbox.
    """
    inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
    try:
        client = _new_client(
            settings, client_id, will_topic=will_topic, will=will, inbox=inbox, wake=wake
        )
        connection = Connection(client, inbox)
    except ConfigError as error:  # the password source; the message holds no secret
        return Failed(str(error))
    except (OSError, ValueError) as error:  # TLS files missing or unreadable
        return Failed(f"TLS settings: {describe(error)}")
    try:
        if settings.protocol == "5":
            connection.client.connect(
                settings.host, settings.port, settings.keepalive, clean_start=True
            )
        else:
            connection.client.connect(settings.host, settings.port, settings.keepalive)
    except (OSError, ValueError) as error:
        connection.close()
        return Failed(f"{settings.host}:{settings.port}: {describe(error)}")
    connection.start()
    deadline = time.monotonic() + CONNACK_TIMEOUT_S
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            connection.close()
            return Failed("no CONNACK from the broker")
        try:
            message = inbox.get(timeout=min(remaining, STOP_CHECK_S))
        except queue.Empty:
            continue
        if isinstance(message, Connack):
            if message.reason.is_failure:
                connection.close()
                return Failed(f"the broker refused the connection: {reason_text(message.reason)}")
            connection.receive_maximum = message.receive_maximum
            return connection
        if isinstance(message, Gone):
            connection.close()
            return Failed(f"connection closed before CONNACK: {message.reason}")
    connection.close()
    return None


def _new_client(
    settings: MqttConfig,
    client_id: str,
    *,
    will_topic: str,
    will: str,
    inbox: queue.SimpleQueue[Message],
    wake: Callable[[], None],
) -> mqtt.Client:
    client = paho_client(settings, client_id)
    client.max_inflight_messages_set(settings.max_inflight)
    will_properties = json_properties(PacketTypes.WILLMESSAGE) if settings.protocol == "5" else None
    client.will_set(
        will_topic,
        will.encode("utf-8"),
        qos=1,
        retain=True,
        properties=will_properties,
    )

    # Callbacks run on paho's thread: they hand over and wake the relay, nothing else.
    def on_connect(
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties else None
        inbox.put(Connack(reason, receive_maximum))
        wake()

    def on_publish(
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        reason: ReasonCode,
        _properties: Properties,
    ) -> None:
        inbox.put(Puback(mid, reason))
        wake()

    def on_disconnect(
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        inbox.put(Gone(reason_text(reason)))
        wake()

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_disconnect = on_disconnect
    return client
