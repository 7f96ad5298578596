"""The settings: one frozen dataclass per TOML table, and the schema each is read with.

Conventions a reader of the dataclasses needs to know:

* The TOML key ``suffix`` means two things. On an evdev scanner it is the key
  that ends a scan (``enter``, ``tab``, ``none``): ``ScannerConfig.suffix``. On
  a serial scanner it is a string stripped from the end of each code:
  ``ScannerConfig.scan_suffix`` (bytes). Keys of one kind of scanner are
  rejected on the other kind rather than silently ignored.
* Feedback, prefix and suffix strings become bytes one code point each
  (latin-1); a code point above U+00FF is an error.
* Relative paths (database, password file, TLS files) are taken relative to
  the directory of the config file.
* Some defaults depend on other keys: ``mqtt.port`` is 8883 when TLS is on,
  ``idle_ms`` is 200 on a serial scanner (see ``hardware.framing``), and
  ``mqtt.tls`` is true whenever ``tls_ca`` or ``tls_cert`` is set.

The MQTT password is never part of the config objects:
:meth:`MqttConfig.read_password` reads it from its source each time it is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, get_args

from edge.config.addresses import DevicePath, Host, SerialUrl, TopicLevel, TopicPrefix
from edge.config.checks import check_evdev, check_mqtt, check_serial
from edge.config.problems import ConfigError
from edge.config.schema import Table
from edge.config.values import (
    Bool,
    Choice,
    FilePath,
    Float,
    Int,
    Latin1,
    NamePattern,
    ProtocolVersion,
    Quantity,
    StopBits,
    Text,
    TextList,
    Value,
)

__all__ = [
    "DATABASE_TABLE",
    "DEFAULT_DATABASE_PATH",
    "MQTT_TABLE",
    "SCANNER_HEAD",
    "SCANNER_TABLES",
    "SITE_TABLE",
    "STATION_TABLE",
    "Config",
    "DatabaseConfig",
    "MqttConfig",
    "MqttProtocol",
    "ScannerConfig",
    "ScannerKind",
    "SiteConfig",
    "StationConfig",
    "StationMode",
]

DEFAULT_DATABASE_PATH: Final = Path("/var/lib/backflush-edge/edge.db")

StationMode = Literal["ship", "scrap", "build"]
ScannerKind = Literal["evdev", "serial"]
MqttProtocol = Literal["5", "3.1.1"]
WedgeSuffix = Literal["enter", "tab", "none"]
Parity = Literal["N", "E", "O", "M", "S"]
Terminator = Literal["any", "cr", "lf", "crlf", "etx", "stx-etx"]
ByteSize = Literal[5, 6, 7, 8]


@dataclass(frozen=True)
class SiteConfig:
    id: str  # plant or site; one MQTT topic level
    node: str  # this box; one MQTT topic level


@dataclass(frozen=True)
class DatabaseConfig:
    path: Path = DEFAULT_DATABASE_PATH
    min_free_mb: int = 64  # scans are refused below this much free disk space


@dataclass(frozen=True)
class MqttConfig:
    host: str = "localhost"
    port: int = 1883  # 8883 when TLS is on and no port is given
    protocol: MqttProtocol = "5"
    topic_prefix: str | None = None  # None: Config.topic_prefix computes it
    client_id: str | None = None  # None: Config.client_id computes it
    keepalive: int = 30
    username: str | None = None
    # At most one password source; the password itself is read by read_password().
    password_file: Path | None = None
    password_env: str | None = None
    password_credential: str | None = None  # systemd LoadCredential= name
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_insecure: bool = False  # skip the check that the broker's certificate names the host
    max_inflight: int = 20
    retention_days: float = 7  # sent outbox rows are purged after this
    outbox_alarm_rows: int = 1_000_000  # unsent rows above this raise outbox_full
    reconnect_max_s: float = 60  # ceiling of the reconnect back-off
    tls: bool = False  # connect with TLS; always true when tls_ca or tls_cert is set

    def read_password(self) -> str | None:
        """Read the broker password from its source now; None when no source is configured.

        Read at connect time, not at load, so a rotated secret is picked up by
        the next connection and the value never sits in a config object. One
        trailing line ending of a file is removed (``echo secret > file``).
        Raises ConfigError when the source cannot be read; the message never
        contains the secret.
        """
        if self.password_file is not None:
            return _read_secret_file(self.password_file, "mqtt.password_file")
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(
                    f"mqtt.password_env: environment variable {self.password_env} is not set"
                )
            return value
        if self.password_credential is not None:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ConfigError(
                    "mqtt.password_credential: $CREDENTIALS_DIRECTORY is not set "
                    "(the daemon must run from a systemd unit with "
                    f"LoadCredential={self.password_credential}:...)"
                )
            return _read_secret_file(
                Path(directory) / self.password_credential, "mqtt.password_credential"
            )
        return None

    @property
    def password_source(self) -> str | None:
        """The key that names where the password comes from, or None."""
        for key in ("password_file", "password_env", "password_credential"):
            if getattr(self, key) is not None:
                return key
        return None


@dataclass(frozen=True)
class StationConfig:
    id: str
    mode: StationMode
    max_qty: Decimal = Decimal(10000)  # largest QTY: multiplier accepted
    default_reason: str = "unspecified"  # scrap reason when no RSN: was scanned
    void_window_s: float = 600  # how far back VOID reaches
    scrap_reasons: tuple[str, ...] | None = None  # allow-list for RSN:; None accepts any


@dataclass(frozen=True)
class ScannerConfig:
    id: str
    station: str
    kind: ScannerKind
    # evdev: matched by exactly one of device, name, vendor + product (+ serial), phys
    device: str | None = None
    name: str | None = None
    vendor: int | None = None
    product: int | None = None
    serial: str | None = None
    phys: str | None = None
    layout: str = "us"
    suffix: WedgeSuffix = "enter"  # TOML `suffix` of an evdev scanner: the key that ends a scan
    grab: bool = True
    # serial
    url: str | None = None
    baudrate: int = 9600
    bytesize: ByteSize = 8
    parity: Parity = "N"
    stopbits: float = 1  # 1, 1.5 or 2 (a Literal cannot hold 1.5)
    rtscts: bool = False
    xonxoff: bool = False
    terminator: Terminator = "any"
    feedback_good: bytes | None = None
    feedback_bad: bytes | None = None
    prefix: bytes = b""
    scan_suffix: bytes = b""  # TOML `suffix` of a serial scanner: stripped from each code
    # both
    idle_ms: int = 50  # 200 on a serial scanner when not given
    max_length: int = 512
    debounce_ms: int = 1000


@dataclass(frozen=True)
class Config:
    source: Path  # the file this was loaded from, absolute
    site: SiteConfig
    database: DatabaseConfig
    mqtt: MqttConfig
    stations: tuple[StationConfig, ...]
    scanners: tuple[ScannerConfig, ...]
    log_level: str = "INFO"

    @property
    def topic_prefix(self) -> str:
        """``mqtt.topic_prefix``, by default ``backflush/{site}/{node}``."""
        return self.mqtt.topic_prefix or f"backflush/{self.site.id}/{self.site.node}"

    @property
    def client_id(self) -> str:
        """``mqtt.client_id``, by default ``backflush-{site}-{node}`` (unique per node)."""
        return self.mqtt.client_id or f"backflush-{self.site.id}-{self.site.node}"

    def station(self, station_id: str) -> StationConfig:
        """The station with this id; KeyError when there is none."""
        for station in self.stations:
            if station.id == station_id:
                return station
        raise KeyError(station_id)


def _read_secret_file(path: Path, key: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: {path} is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")


_ID = Text(max_length=64)

SITE_TABLE = Table(SiteConfig, {"id": TopicLevel(), "node": TopicLevel()})

DATABASE_TABLE = Table(DatabaseConfig, {"path": FilePath(), "min_free_mb": Int(0, 1_000_000)})

MQTT_TABLE = Table(
    MqttConfig,
    {
        "host": Host(),
        "port": Int(1, 65535),
        "protocol": ProtocolVersion(),
        "topic_prefix": TopicPrefix(),
        "client_id": Text(max_length=256),
        "keepalive": Int(5, 65535),
        "username": Text(max_length=256),
        "password_file": FilePath(),
        "password_env": NamePattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name"),
        "password_credential": NamePattern(r"[^/\0]+", "a credential name (a file name)"),
        "tls": Bool(),
        "tls_ca": FilePath(),
        "tls_cert": FilePath(),
        "tls_key": FilePath(),
        "tls_insecure": Bool(),
        "max_inflight": Int(1, 65535),
        "retention_days": Float(0, 3650, above=True),
        "outbox_alarm_rows": Int(1),
        "reconnect_max_s": Float(1, 3600),
    },
    check=check_mqtt,
)

STATION_TABLE = Table(
    StationConfig,
    {
        "id": _ID,
        "mode": Choice(get_args(StationMode)),
        "max_qty": Quantity(),
        "default_reason": _ID,
        "void_window_s": Float(0, 86_400),
        "scrap_reasons": TextList(_ID),
    },
)

SCANNER_HEAD: dict[str, Value[Any]] = {
    "id": _ID,
    "station": _ID,
    "kind": Choice(get_args(ScannerKind)),
}
_EVDEV_KEYS: dict[str, Value[Any]] = {
    "device": DevicePath(),
    "name": Text(max_length=256),
    "vendor": Int(0, 0xFFFF, hex_digits=4),
    "product": Int(0, 0xFFFF, hex_digits=4),
    "serial": Text(max_length=256),
    "phys": Text(max_length=256),
    "layout": Text(max_length=64),
    "suffix": Choice(get_args(WedgeSuffix)),
    "grab": Bool(),
}
_SERIAL_KEYS: dict[str, Value[Any]] = {
    "url": SerialUrl(),
    "baudrate": Int(50, 4_000_000),
    "bytesize": Int(5, 8),
    "parity": Choice(get_args(Parity)),
    "stopbits": StopBits(),
    "rtscts": Bool(),
    "xonxoff": Bool(),
    "terminator": Choice(get_args(Terminator)),
    "feedback_good": Latin1(allow_empty=False),
    "feedback_bad": Latin1(allow_empty=False),
    "prefix": Latin1(allow_empty=True),
    "suffix": Latin1(allow_empty=True),
}
_SCANNER_TAIL: dict[str, Value[Any]] = {
    "idle_ms": Int(1, 60_000),
    "max_length": Int(1, 65_536),
    "debounce_ms": Int(0, 3_600_000),
}
SCANNER_TABLES: Mapping[str, Table[ScannerConfig]] = {
    "evdev": Table(
        ScannerConfig, {**SCANNER_HEAD, **_EVDEV_KEYS, **_SCANNER_TAIL}, check=check_evdev
    ),
    "serial": Table(
        ScannerConfig,
        {**SCANNER_HEAD, **_SERIAL_KEYS, **_SCANNER_TAIL},
        renames={"suffix": "scan_suffix"},
        check=check_serial,
    ),
}
