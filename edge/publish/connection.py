"""The paho side of the relay: one client per connection, its network loop driven by the relay.

:func:`open_connection` builds a paho client (protocol, Last Will, credentials,
TLS), connects and waits for the CONNACK. The client never reconnects by
itself (``reconnect_on_failure=False``) and is thrown away with its
connection, so paho never re-sends its own copies of unacknowledged messages.
There is no paho network thread: the relay thread waits on the client's socket
(:meth:`Connection.serve`) and calls paho's ``loop_read``, ``loop_write`` and
``loop_misc`` itself, and each ``publish`` writes to the socket at once. A
publish handed to a network thread cost a wake-up of that thread and Python's
lock passed back and forth, more than the publish itself. paho's callbacks
only put :class:`Connack`, :class:`Puback` and :class:`Gone` into the
connection's inbox; the relay reads it after each turn of the loop.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import ConfigError, MqttConfig
from edge.publish.clients import paho_client, paho_log
from edge.publish.parts import PayloadLimit
from edge.publish.wakeup import Wakeup

CONNACK_TIMEOUT_S = 10.0
STOP_CHECK_S = 0.5  # while waiting for the CONNACK, a stop is noticed this fast
CLOSE_WRITE_S = 1.0  # a clean close waits this long for room to write DISCONNECT
MISC_EVERY_S = 1.0  # paho's loop_misc: keepalive checks, which count in seconds


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
    maximum_packet_size: int | None  # the largest packet the broker accepts (MQTT 5)


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
    """One paho client, one connection, never reconnected; its loop runs on the caller's thread.

    paho's callbacks are methods here: they run inside ``loop_read``,
    ``loop_write`` or ``loop_misc`` on the relay thread and only append to
    :attr:`inbox`.
    """

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.inbox: deque[Message] = deque()
        self.receive_maximum: int | None = None  # from the CONNACK (MQTT 5)
        self.maximum_packet_size: int | None = None  # from the CONNACK (MQTT 5)
        self._gone = False
        self._next_misc = 0.0
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect

    def limits(
        self, settings: MqttConfig, properties: PackedProperties | None
    ) -> tuple[int, PayloadLimit]:
        """This connection's window (``max_inflight``, at most the broker's Receive
        Maximum) and what one PUBLISH may carry, with ``properties`` on each."""
        window = settings.max_inflight
        if self.receive_maximum:
            window = min(window, self.receive_maximum)
        packed = None if properties is None else len(properties.pack())
        return window, PayloadLimit(settings.max_payload_bytes, self.maximum_packet_size, packed)

    def serve(self, wakeup: Wakeup, timeout: float) -> None:
        """Wait up to ``timeout`` for the broker or a wake-up; then let paho read and write.

        Each publish writes at once; paho keeps bytes for later only when the
        socket's buffer is full, and then the wait also watches for room to
        write. ``loop_misc`` (keepalive PINGREQ, a PINGRESP that never came)
        runs about once a second.
        """
        client = self.client
        sock = client.socket()
        if sock is None:
            self._gone_with("socket closed")
            return
        # TLS may hold decrypted bytes the socket no longer shows to poll().
        buffered = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        readable, writable = wakeup.wait(
            sock.fileno(), write=client.want_write(), timeout=0.0 if buffered else timeout
        )
        if readable or buffered:
            client.loop_read()
        if writable and client.want_write():
            client.loop_write()
        now = time.monotonic()
        if now >= self._next_misc and client.socket() is not None:
            self._next_misc = now + MISC_EVERY_S
            client.loop_misc()

    def close(self) -> None:
        """DISCONNECT when still connected (the broker then drops the Last Will), then close."""
        client = self.client
        sock = client.socket()
        if isinstance(sock, socket.socket):  # TLS sockets are ones too
            # What paho still holds, then DISCONNECT, waits for room in the socket's
            # buffer a little, rather than failing at once on a full one.
            sock.settimeout(CLOSE_WRITE_S)
        client.disconnect()  # written here; after a loss it does nothing
        sock = client.socket()
        if sock is not None:  # not written in time: the client is dropped anyway
            sock.close()

    def _gone_with(self, reason: str) -> None:
        if not self._gone:
            self._gone = True
            self.inbox.append(Gone(reason))

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties else None
        packet_size = getattr(properties, "MaximumPacketSize", None) if properties else None
        self.inbox.append(Connack(reason, receive_maximum, packet_size))

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        reason: ReasonCode,
        _properties: Properties,
    ) -> None:
        self.inbox.append(Puback(mid, reason))

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._gone_with(reason_text(reason))


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


class PackedProperties(Properties):
    """MQTT 5 properties that are not changed once built, packed once.

    paho packs a message's properties again for every publish, about 10 µs
    for the two of an event: a sixth of the relay's CPU per event in a backlog
    drain. Call :meth:`freeze` after the last property is set.
    """

    def freeze(self) -> None:
        # Past the property-name check of Properties.__setattr__, as its own fields are.
        object.__setattr__(self, "_packed", super().pack())  # type: ignore[no-untyped-call]

    def pack(self) -> bytes:
        packed: bytes | None = self.__dict__.get("_packed")
        return packed if packed is not None else bytes(super().pack())  # type: ignore[no-untyped-call]


def json_properties(packet_type: int) -> PackedProperties:
    """MQTT 5 properties saying the payload is UTF-8 JSON, packed once."""
    properties = PackedProperties(packet_type)  # type: ignore[no-untyped-call]
    properties.PayloadFormatIndicator = 1
    properties.ContentType = "application/json"
    properties.freeze()
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
    wakeup: Wakeup,
    stop: threading.Event,
) -> Connection | Failed | None:
    """One connection attempt, up to the CONNACK; None when ``stop`` was set meanwhile.

    ``will`` is the Last Will's JSON text, published retained on ``will_topic``;
    the CONNACK is waited for in ``wakeup`` (a wake-up only ends one wait early).
    """
    try:
        connection = Connection(_new_client(settings, client_id, will_topic=will_topic, will=will))
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
    deadline = time.monotonic() + CONNACK_TIMEOUT_S
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            connection.close()
            return Failed("no CONNACK from the broker")
        connection.serve(wakeup, min(remaining, STOP_CHECK_S))
        while connection.inbox:
            message = connection.inbox.popleft()
            if isinstance(message, Connack):
                if message.reason.is_failure:
                    connection.close()
                    reason = reason_text(message.reason)
                    return Failed(f"the broker refused the connection: {reason}")
                connection.receive_maximum = message.receive_maximum
                connection.maximum_packet_size = message.maximum_packet_size
                return connection
            if isinstance(message, Gone):
                connection.close()
                return Failed(f"connection closed before CONNACK: {message.reason}")
    connection.close()
    return None


def _new_client(settings: MqttConfig, client_id: str, *, will_topic: str, will: str) -> mqtt.Client:
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
    return client
