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
  ``idle_ms`` is 200 on a serial scanner (see ``hardware.serial.framing``), and
  ``mqtt.tls`` is true whenever ``tls_ca`` or ``tls_cert`` is set.

The MQTT password is never part of the config objects:
:meth:`MqttConfig.read_password` reads it from its source each time it is needed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, get_args

from edge.commands.names import COMMAND_TYPES
from edge.config.addresses import (
    DevicePath,
    Host,
    ListenAddress,
    SerialUrl,
    TopicLevel,
    TopicPrefix,
)
from edge.config.checks import check_evdev, check_mqtt, check_serial
from edge.config.problems import ConfigError
from edge.config.schema import Table, setting, settings_table
from edge.config.values import (
    Bool,
    Choice,
    ChoiceList,
    FilePath,
    Float,
    Int,
    Latin1,
    LogLevel,
    NamePattern,
    ProtocolVersion,
    Quantity,
    StopBits,
    Text,
    TextList,
)
from edge.domain.model import DEFAULT_POLICY, KanbanReconcile, Station, StationMode
from edge.publish.topics import default_prefix
from hardware.options import BYTESIZES, PARITIES, SUFFIXES, ByteSize, Parity, Suffix
from hardware.serial.framing import TERMINATORS, Terminator

__all__ = [
    "COMMANDS_TABLE",
    "DATABASE_TABLE",
    "DEFAULT_DATABASE_PATH",
    "DISPLAY_TABLE",
    "INVENTORY_TABLE",
    "MQTT_TABLE",
    "SCANNER_TABLES",
    "SITE_TABLE",
    "STATION_TABLE",
    "CommandsConfig",
    "Config",
    "DatabaseConfig",
    "DisplayConfig",
    "InventoryConfig",
    "MqttConfig",
    "MqttProtocol",
    "ScannerConfig",
    "ScannerKind",
    "SiteConfig",
    "StationConfig",
    "StationMode",
]

DEFAULT_DATABASE_PATH: Final = Path("/var/lib/backflush-edge/edge.db")

ScannerKind = Literal["evdev", "serial"]
MqttProtocol = Literal["5", "3.1.1"]

# Value types that several keys share.
_ID = Text(max_length=64)
_NAME = Text(max_length=256)
_USB_ID = Int(0, 0xFFFF, hex_digits=4)
_BYTES = Latin1(allow_empty=True)
_FEEDBACK = Latin1(allow_empty=False)  # empty would send nothing: leave the key out instead
_ENV_NAME = NamePattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")
_CREDENTIAL_NAME = NamePattern(r"[^/\0]+", "a credential name (a file name)")

# A [[station]] key left out takes the domain's default.
_STATION_DEFAULTS: Final[dict[str, Any]] = {
    field.name: field.default for field in dataclasses.fields(Station)
}

# The scanner keys that only one kind of scanner has.
_EVDEV: Final[tuple[ScannerKind, ...]] = ("evdev",)
_SERIAL: Final[tuple[ScannerKind, ...]] = ("serial",)

DuplicateFeedback = Literal["none", "good"]  # a serial scanner's answer to a double read
DUPLICATE_FEEDBACK: Final[tuple[DuplicateFeedback, ...]] = get_args(DuplicateFeedback)


@settings_table
class SiteConfig:
    id: str = setting(TopicLevel())  # plant or site; one MQTT topic level
    node: str = setting(TopicLevel())  # this box; one MQTT topic level


@settings_table
class DatabaseConfig:
    path: Path = setting(FilePath(), default=DEFAULT_DATABASE_PATH)
    # Scans are refused below this much free disk space.
    min_free_mb: int = setting(Int(0, 1_000_000), default=64)


@settings_table
class MqttConfig:
    host: str = setting(Host(), default="localhost")
    port: int = setting(Int(1, 65535), default=1883)  # 8883 when TLS is on and no port is given
    protocol: MqttProtocol = setting(ProtocolVersion(), default="5")
    topic_prefix: str | None = setting(TopicPrefix(), default=None)  # None: Config.topic_prefix
    client_id: str | None = setting(_NAME, default=None)  # None: Config.client_id computes it
    keepalive: int = setting(Int(5, 65535), default=30)
    username: str | None = setting(_NAME, default=None)
    # At most one password source; the password itself is read by read_password().
    password_file: Path | None = setting(FilePath(), default=None)
    password_env: str | None = setting(_ENV_NAME, default=None)
    # The name of a systemd LoadCredential=.
    password_credential: str | None = setting(_CREDENTIAL_NAME, default=None)
    # Connect with TLS; always true when tls_ca or tls_cert is set.
    tls: bool = setting(Bool(), default=False)
    tls_ca: Path | None = setting(FilePath(), default=None)
    tls_cert: Path | None = setting(FilePath(), default=None)
    tls_key: Path | None = setting(FilePath(), default=None)
    # Skip the check that the broker's certificate names the host.
    tls_insecure: bool = setting(Bool(), default=False)
    max_inflight: int = setting(Int(1, 65535), default=20)
    # The largest payload one message carries; a larger event goes out in parts.
    max_payload_bytes: int = setting(Int(256, 268_435_455), default=262_144)
    # Sent outbox rows are purged after this.
    retention_days: float = setting(Float(0, 3650, above=True), default=7)
    # Unsent rows above this raise outbox_full.
    outbox_alarm_rows: int = setting(Int(1), default=1_000_000)
    # The ceiling of the reconnect back-off.
    reconnect_max_s: float = setting(Float(1, 3600), default=60)

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


@settings_table
class CommandsConfig:
    """[commands]: what central systems may send over MQTT (SPEC §11)."""

    # Subscribe to {prefix}/cmd/# and backflush/{site}/cmd/#; off unless asked for.
    enabled: bool = setting(Bool(), default=False)
    # The command types applied; any other is answered rejected.
    allow: tuple[str, ...] = setting(ChoiceList(COMMAND_TYPES), default=COMMAND_TYPES)
    # A larger payload is answered rejected without being read.
    max_bytes: int = setting(Int(64, 256 * 1024 * 1024), default=1024 * 1024)


@settings_table
class InventoryConfig:
    """[inventory]: the domain's :class:`~edge.domain.model.InventoryPolicy`, field for field.

    The defaults are the domain's (DEFAULT_POLICY); ``policy_from_config`` copies every field.
    """

    # "report": an emptied kanban card's reconciliation is told; "adjust": also posted.
    kanban_reconcile: KanbanReconcile = setting(
        Choice(get_args(KanbanReconcile)), default=DEFAULT_POLICY.kanban_reconcile
    )
    # A count's variance beyond this % of the consumption since the previous count is
    # reported, unless the item sets its own count_tolerance_pct.
    count_tolerance_pct: Decimal = setting(
        Quantity(Decimal(0), Decimal(1000)), default=DEFAULT_POLICY.count_tolerance_pct
    )


@settings_table
class DisplayConfig:
    """[display]: the station display, /metrics and /healthz on one local HTTP server (SPEC §14).

    Off unless ``listen`` is set; the server has no password, so it belongs on
    loopback or on the line's own network.
    """

    # host:port, e.g. "127.0.0.1:8080"; none: no server.
    listen: str | None = setting(ListenAddress(), default=None)
    # A short beep in the station page on each rejected scan.
    sound: bool = setting(Bool(), default=False)
    # Open pages (live connections) served at once; one more is answered 503.
    max_clients: int = setting(Int(1, 1000), default=32)


@settings_table
class StationConfig:
    """A [[station]] table: the domain's :class:`~edge.domain.model.Station`, field for field.

    The defaults are the domain's, and ``station_from_config`` copies every field.
    """

    id: str = setting(_ID)
    mode: StationMode = setting(Choice(StationMode))
    # The largest QTY: multiplier accepted.
    max_qty: Decimal = setting(Quantity(), default=_STATION_DEFAULTS["max_qty"])
    # The scrap reason when no RSN: was scanned.
    default_reason: str = setting(_ID, default=_STATION_DEFAULTS["default_reason"])
    # How far back VOID reaches.
    void_window_s: float = setting(Float(0, 86_400), default=_STATION_DEFAULTS["void_window_s"])
    # The allow-list for RSN:; None accepts any reason.
    scrap_reasons: tuple[str, ...] | None = setting(
        TextList(_ID), default=_STATION_DEFAULTS["scrap_reasons"]
    )
    # The allow-list for RSN: at an issue station; None accepts any printable reason.
    issue_reasons: tuple[str, ...] | None = setting(
        TextList(_ID), default=_STATION_DEFAULTS["issue_reasons"]
    )


@settings_table
class ScannerConfig:
    """A [[scanner]] table; ``kinds=`` marks the keys of one kind of scanner."""

    id: str = setting(_ID)
    station: str = setting(_ID)
    kind: ScannerKind = setting(Choice(get_args(ScannerKind)))
    # evdev: matched by exactly one of device, name, vendor + product (+ serial), phys
    device: str | None = setting(DevicePath(), default=None, kinds=_EVDEV)
    name: str | None = setting(_NAME, default=None, kinds=_EVDEV)
    vendor: int | None = setting(_USB_ID, default=None, kinds=_EVDEV)
    product: int | None = setting(_USB_ID, default=None, kinds=_EVDEV)
    serial: str | None = setting(_NAME, default=None, kinds=_EVDEV)
    phys: str | None = setting(_NAME, default=None, kinds=_EVDEV)
    layout: str = setting(Text(max_length=64), default="us", kinds=_EVDEV)
    # TOML `suffix` of an evdev scanner: the key that ends a scan.
    suffix: Suffix = setting(Choice(SUFFIXES), default="enter", kinds=_EVDEV)
    grab: bool = setting(Bool(), default=True, kinds=_EVDEV)
    # serial
    url: str | None = setting(SerialUrl(), default=None, kinds=_SERIAL)
    baudrate: int = setting(Int(50, 4_000_000), default=9600, kinds=_SERIAL)
    bytesize: ByteSize = setting(Int(BYTESIZES[0], BYTESIZES[-1]), default=8, kinds=_SERIAL)
    parity: Parity = setting(Choice(PARITIES), default="N", kinds=_SERIAL)
    # 1, 1.5 or 2 (a Literal cannot hold 1.5).
    stopbits: float = setting(StopBits(), default=1, kinds=_SERIAL)
    rtscts: bool = setting(Bool(), default=False, kinds=_SERIAL)
    xonxoff: bool = setting(Bool(), default=False, kinds=_SERIAL)
    terminator: Terminator = setting(Choice(TERMINATORS), default="any", kinds=_SERIAL)
    feedback_good: bytes | None = setting(_FEEDBACK, default=None, kinds=_SERIAL)
    feedback_bad: bytes | None = setting(_FEEDBACK, default=None, kinds=_SERIAL)
    # A double read (within debounce_ms) is ignored; "good" also answers it with
    # feedback_good, for a scanner that waits for every answer.
    feedback_duplicate: DuplicateFeedback = setting(
        Choice(DUPLICATE_FEEDBACK), default="none", kinds=_SERIAL
    )
    prefix: bytes = setting(_BYTES, default=b"", kinds=_SERIAL)
    # TOML `suffix` of a serial scanner: stripped from each code.
    scan_suffix: bytes = setting(_BYTES, default=b"", toml="suffix", kinds=_SERIAL)
    # both
    idle_ms: int = setting(Int(1, 60_000), default=50)  # 200 on a serial scanner when not given
    max_length: int = setting(Int(1, 65_536), default=512)
    debounce_ms: int = setting(Int(0, 3_600_000), default=1000)


@dataclass(frozen=True)
class Config:
    source: Path  # the file this was loaded from, absolute
    site: SiteConfig
    database: DatabaseConfig
    mqtt: MqttConfig
    stations: tuple[StationConfig, ...]
    scanners: tuple[ScannerConfig, ...]
    log_level: str = setting(LogLevel(), default="INFO")
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    inventory: InventoryConfig = field(default_factory=InventoryConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)

    @property
    def topic_prefix(self) -> str:
        """``mqtt.topic_prefix``, by default ``backflush/{site}/{node}``."""
        return self.mqtt.topic_prefix or default_prefix(self.site.id, self.site.node)

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


SITE_TABLE = Table(SiteConfig)
DATABASE_TABLE = Table(DatabaseConfig)
MQTT_TABLE = Table(MqttConfig, check=check_mqtt)
STATION_TABLE = Table(StationConfig)
COMMANDS_TABLE = Table(CommandsConfig)
INVENTORY_TABLE = Table(InventoryConfig)
DISPLAY_TABLE = Table(DisplayConfig)
SCANNER_TABLES: Mapping[str, Table[ScannerConfig]] = {
    "evdev": Table(ScannerConfig, kind="evdev", check=check_evdev),
    "serial": Table(ScannerConfig, kind="serial", check=check_serial),
}
