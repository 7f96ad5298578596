"""Value types for the names of things outside the box: the broker, MQTT topics, devices.

Each checks that a name can be used for what it names (a host name is not a URL,
a topic level has no wildcard or '/', a device path is absolute, a serial URL's
scheme is one the serial reader can open); none of them looks the name up.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from edge.config.problems import Invalid, did_you_mean
from edge.config.values import Text, Value, expected, show

__all__ = [
    "SERIAL_URL_SCHEMES",
    "DevicePath",
    "Host",
    "ListenAddress",
    "SerialUrl",
    "TopicLevel",
    "TopicPrefix",
    "is_loopback",
    "split_listen",
]

# Schemes of the serial URL handlers the serial reader can open (serial_for_url).
SERIAL_URL_SCHEMES: Final = ("alt", "cp2110", "hwgrep", "loop", "rfc2217", "socket", "spy")


class TopicLevel(Text):
    """Text that is one MQTT topic level (site, node)."""

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        for char in "+#":
            if char in text:
                raise Invalid(f"{show(text)} must not contain {char!r} (an MQTT wildcard)")
        if "/" in text:
            raise Invalid(
                f"{show(text)} must not contain '/' (it is one topic level; "
                "set mqtt.topic_prefix for a deeper prefix)"
            )
        return text


class TopicPrefix(Value[str]):
    """An MQTT topic prefix: levels joined by '/', none empty, no wildcard, no NUL."""

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise expected("a string", raw)
        if not raw:
            raise Invalid("must not be empty")
        shown = show(raw)
        if "\0" in raw:
            raise Invalid(f"{shown} must not contain NUL")
        for char in "+#":
            if char in raw:
                raise Invalid(f"{shown} must not contain {char!r} (an MQTT wildcard)")
        if not raw.isprintable():
            raise Invalid(f"{shown} has a control character")
        if raw.startswith("/") or raw.endswith("/"):
            raise Invalid(f"{shown} must not start or end with '/'")
        if "//" in raw:
            raise Invalid(f"{shown} has an empty topic level")
        if raw.startswith("$"):
            raise Invalid(f"{shown} must not start with '$' (reserved for the broker)")
        if len(raw.encode()) > 32_000:
            raise Invalid("is too long for an MQTT topic")
        return raw


class Host(Text):
    """A broker host name or IP address."""

    def __init__(self) -> None:
        super().__init__(max_length=253)

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        if "://" in text:
            raise Invalid(f"{show(text)} is a URL; give the host name only (and mqtt.port)")
        if " " in text or "/" in text:
            raise Invalid(f"{show(text)} is not a host name or IP address")
        if ":" in text:
            try:
                ipaddress.IPv6Address(text)
            except ValueError:
                raise Invalid(f"{show(text)}: give the port in mqtt.port") from None
        return text


class DevicePath(Text):
    """An absolute device path, kept as a string (it is compared and shown, not opened here)."""

    def __init__(self) -> None:
        super().__init__(max_length=4096)

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        if not text.startswith("/"):
            raise Invalid(f"{show(text)} must be an absolute path such as /dev/input/by-id/...")
        return text


class SerialUrl(Text):
    """A serial device path or a serial URL such as ``socket://host:port``."""

    def __init__(self) -> None:
        super().__init__(max_length=4096)

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        scheme, separator, _ = text.partition("://")
        if separator:
            if scheme not in SERIAL_URL_SCHEMES:
                hint = did_you_mean(scheme, SERIAL_URL_SCHEMES)
                known = ", ".join(SERIAL_URL_SCHEMES)
                raise Invalid(f"unknown URL scheme {scheme!r}{hint}; known: {known}")
        elif not text.startswith("/"):
            raise Invalid(
                f"{show(text)} must be an absolute device path (/dev/ttyACM0) "
                "or a URL such as socket://host:port"
            )
        return text


def split_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as the host and the port; ValueError if it is none."""
    host, separator, port = text.rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ListenAddress(Text):
    """Where a local server listens: ``host:port`` with an IP address or ``localhost``.

    Kept as text (it is printed back as written); :func:`split_listen` reads it.
    """

    def __init__(self) -> None:
        super().__init__(max_length=64)

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        try:
            host, port = split_listen(text)
        except ValueError:
            raise Invalid(f'{show(text)} must be host:port, e.g. "127.0.0.1:8080"') from None
        if not 1 <= port <= 65535:
            raise Invalid(f"{show(text)}: the port must be between 1 and 65535")
        if host != "localhost":
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise Invalid(
                    f"{show(text)}: give an IP address of this machine (or localhost), "
                    "e.g. 127.0.0.1, or 0.0.0.0 for every interface"
                ) from None
        return text
