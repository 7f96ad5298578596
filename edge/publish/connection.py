"""The paho side of the relay: one connection and the messages its callbacks hand over.

paho's network thread reads and writes the socket; the callbacks only put
:class:`Connack`, :class:`Puback` and :class:`Gone` into the connection's inbox
for the relay thread, which decides everything.
"""

from __future__ import annotations

import logging
import queue
import ssl
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

# paho's own lines, under the relay's logger name.
paho_log = logging.getLogger("edge.publish.relay.paho")


def _not_paho_noise(record: logging.LogRecord) -> bool:
    # paho 2.2 logs this at ERROR each time its network thread ends after a clean
    # DISCONNECT (its loop runs once more on the closed socket); it means nothing.
    return not str(record.msg).startswith("Client is not connected")


paho_log.addFilter(_not_paho_noise)


@dataclass(frozen=True, slots=True)
class Connack:
    reason: ReasonCode
    receive_maximum: int | None


@dataclass(frozen=True, slots=True)
class Puback:
    mid: int
    reason: ReasonCode


@dataclass(frozen=True, slots=True)
class Gone:
    reason: str


Message = Connack | Puback | Gone


class Connection:
    """One paho client and its network thread: one connection, never reconnected."""

    def __init__(self, client: mqtt.Client, inbox: queue.SimpleQueue[Message]) -> None:
        self.client = client
        self.inbox = inbox
        self.started = False

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
    return f"{reason.getName()} (0x{reason.value:02x})"
