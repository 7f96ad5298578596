"""Configuration: one TOML file, read once at start and validated into frozen dataclasses.

Each table has a schema (:class:`_Table`) that maps every TOML key, once, to a
value type that parses and checks it (:class:`_Value`); defaults live on the
dataclass fields, so a key left out of the file takes the field's default.
Everything wrong with a file is collected and raised as one :class:`ConfigError`
with one line per problem, each naming the file and the key::

    edge.toml: station[2].mode: 'shp' is not one of ship, scrap, build (did you mean 'ship'?)
    edge.toml: mqtt.prot: unknown key (did you mean 'protocol'?)

Arrays of tables are counted from 1, as a reader counts the ``[[station]]``
blocks in the file.

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

Loading reads the config file and nothing else. The MQTT password is never
part of the config objects: :meth:`MqttConfig.read_password` reads it from its
source each time it is needed.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import re
import stat
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar, get_args

from hardware.framing import DEFAULT_IDLE_MS as SERIAL_DEFAULT_IDLE_MS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "DEFAULT_DATABASE_PATH",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "MqttConfig",
    "MqttProtocol",
    "ScannerConfig",
    "ScannerKind",
    "SiteConfig",
    "StationConfig",
    "StationMode",
    "config_warnings",
    "format_config",
    "load_config",
]

DEFAULT_DATABASE_PATH: Final = Path("/var/lib/backflush-edge/edge.db")
MQTT_TLS_PORT: Final = 8883

StationMode = Literal["ship", "scrap", "build"]
ScannerKind = Literal["evdev", "serial"]
MqttProtocol = Literal["5", "3.1.1"]
WedgeSuffix = Literal["enter", "tab", "none"]
Parity = Literal["N", "E", "O", "M", "S"]
Terminator = Literal["any", "cr", "lf", "crlf", "etx", "stx-etx"]
ByteSize = Literal[5, 6, 7, 8]
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Schemes of the serial URL handlers the serial reader can open (serial_for_url).
SERIAL_URL_SCHEMES: Final = ("alt", "cp2110", "hwgrep", "loop", "rfc2217", "socket", "spy")


class ConfigError(Exception):
    """The configuration cannot be used.

    ``str()`` is one line per problem, each naming the file and the key.
    """


# --------------------------------------------------------------------------- the settings


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


# --------------------------------------------------------------------------- value types


class _Invalid(Exception):
    """A value is wrong. The message says why; the caller puts the file and key in front."""


@dataclass(frozen=True)
class _TomlFloat:
    """A TOML float as written in the file (the parser's ``parse_float`` hook).

    Keeping the text lets ``max_qty = 2.5`` become exactly ``Decimal("2.5")``
    without passing through a binary float.
    """

    text: str


def _kind(raw: object) -> str:
    """The TOML type of a parsed value, for messages."""
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int):
        return "an integer"
    if isinstance(raw, _TomlFloat):
        return "a float"
    if isinstance(raw, str):
        return "a string"
    if isinstance(raw, list):
        return "an array"
    if isinstance(raw, dict):
        return "a table"
    return "a date or time"


def _shown(raw: object) -> str:
    """A short rendering of a value for messages."""
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, _TomlFloat):
        text = raw.text
    elif isinstance(raw, str):
        text = repr(raw)
    else:
        text = str(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(what: str, raw: object) -> _Invalid:
    if isinstance(raw, list | dict):
        return _Invalid(f"expected {what}, got {_kind(raw)}")
    return _Invalid(f"expected {what}, got {_kind(raw)} ({_shown(raw)})")


def _suggestion(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate a mistyped name most likely meant.

    A name that differs only in case, then the one candidate the name is the
    start of (``prot`` -> ``protocol``, where plain similarity would say
    ``port``), then the closest by :mod:`difflib`.
    """
    options = list(candidates)
    for option in options:
        if option.lower() == name.lower():
            return option
    started = [option for option in options if name and option.startswith(name.lower())]
    if len(started) == 1:
        return started[0]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    suggestion = _suggestion(name, candidates)
    return f" (did you mean {suggestion!r}?)" if suggestion else ""


def _toml_string(text: str, *, escape_high: bool = False) -> str:
    """A TOML basic string; control characters (and, for bytes, U+0080-U+00FF) as \\uXXXX."""

    def escaped(char: str) -> str:
        code = ord(char)
        if char in '"\\':
            return "\\" + char
        if code < 0x20 or 0x7F <= code <= 0x9F or (escape_high and code >= 0x80):
            return f"\\u{code:04X}"
        return char

    return '"' + "".join(escaped(char) for char in text) + '"'


def _toml_literal(value: object) -> str:
    """A setting as TOML, for format_config."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Path):
        return _toml_string(str(value))
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, bytes):
        return _toml_string(value.decode("latin-1"), escape_high=True)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_literal(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


_T = TypeVar("_T")


class _Value(ABC, Generic[_T]):
    """The type of one config value: parses a TOML value or raises _Invalid."""

    @abstractmethod
    def parse(self, raw: object) -> _T: ...

    def literal(self, value: _T) -> str:
        """The value as TOML, for format_config."""
        return _toml_literal(value)


class _Bool(_Value[bool]):
    def parse(self, raw: object) -> bool:
        if not isinstance(raw, bool):
            raise _expected("true or false", raw)
        return raw


def _number(value: float) -> str:
    """A number for messages: 3600000 and 0.5, not 3.6e+06 or 3600000.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _check_range(
    value: float, minimum: float | None, maximum: float | None, *, above: bool = False
) -> None:
    """Raise _Invalid unless minimum <= value <= maximum (minimum < value when ``above``)."""
    low_ok = minimum is None or (value > minimum if above else value >= minimum)
    high_ok = maximum is None or value <= maximum
    if low_ok and high_ok:
        return
    got = f"got {_number(value)}"
    if minimum is not None and above:
        raise _Invalid(f"must be greater than {_number(minimum)}, {got}")
    if minimum is not None and maximum is not None:
        raise _Invalid(f"must be between {_number(minimum)} and {_number(maximum)}, {got}")
    if minimum is not None:
        raise _Invalid(f"must be at least {_number(minimum)}, {got}")
    raise _Invalid(f"must be at most {_number(maximum or 0)}, {got}")


class _Int(_Value[int]):
    """An integer in a range; a boolean is not an integer."""

    def __init__(self, minimum: int, maximum: int | None = None, *, hex_digits: int = 0) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.hex_digits = hex_digits  # shown as 0x... by format_config (USB ids)

    def parse(self, raw: object) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _expected("an integer", raw)
        _check_range(raw, self.minimum, self.maximum)
        return raw

    def literal(self, value: int) -> str:
        return f"0x{value:0{self.hex_digits}x}" if self.hex_digits else str(value)


class _Float(_Value[float]):
    """A finite number (integer or float) in a range."""

    def __init__(self, minimum: float, maximum: float, *, above: bool = False) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.above = above  # minimum itself is excluded

    def parse(self, raw: object) -> float:
        if isinstance(raw, _TomlFloat):
            value = float(raw.text)
            if not math.isfinite(value):
                raise _Invalid(f"must be a finite number, got {raw.text}")
        elif isinstance(raw, int) and not isinstance(raw, bool):
            value = float(raw)
        else:
            raise _expected("a number", raw)
        _check_range(value, self.minimum, self.maximum, above=self.above)
        return value


_QUANTITY = re.compile(r"-?[0-9]+(\.[0-9]{1,6})?")


class _Quantity(_Value[Decimal]):
    """An exact quantity greater than 0.

    Given as an integer, a string or a float literal whose text matches the
    product's quantity syntax (no exponent, at most 6 decimals); it is never
    rounded.
    """

    def parse(self, raw: object) -> Decimal:
        if isinstance(raw, bool):
            raise _expected("a quantity", raw)
        if isinstance(raw, int):
            text = str(raw)
        elif isinstance(raw, str | _TomlFloat):
            text = raw if isinstance(raw, str) else raw.text
            if not _QUANTITY.fullmatch(text):
                raise _Invalid(
                    f"{text!r} is not an exact decimal "
                    "(digits with an optional '.' and 1 to 6 more digits)"
                )
        else:
            raise _expected("a quantity", raw)
        value = Decimal(text)
        if value <= 0:
            raise _Invalid(f"must be greater than 0, got {text}")
        return value


class _Text(_Value[str]):
    """A non-empty line of printable text without surrounding blanks (ids, names, codes)."""

    def __init__(self, max_length: int = 64) -> None:
        self.max_length = max_length

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise _expected("a string", raw)
        if not raw:
            raise _Invalid("must not be empty")
        for position, char in enumerate(raw, 1):
            if not char.isprintable():
                raise _Invalid(f"{_shown(raw)} has a control character at position {position}")
        if raw != raw.strip():
            raise _Invalid(f"{_shown(raw)} has leading or trailing blanks")
        if len(raw) > self.max_length:
            raise _Invalid(f"is longer than {self.max_length} characters")
        return raw


class _Choice(_Value[str]):
    def __init__(self, choices: Iterable[str]) -> None:
        self.choices: tuple[str, ...] = tuple(choices)

    def parse(self, raw: object) -> str:
        listed = ", ".join(self.choices)
        if not isinstance(raw, str):
            raise _expected(f"one of {listed}", raw)
        if raw not in self.choices:
            hint = _did_you_mean(raw, self.choices)
            raise _Invalid(f"{_shown(raw)} is not one of {listed}{hint}")
        return raw


class _LogLevel(_Choice):
    def __init__(self) -> None:
        super().__init__(LOG_LEVELS)

    def parse(self, raw: object) -> str:
        if isinstance(raw, str) and raw.upper() in self.choices:
            return raw.upper()
        return super().parse(raw)


class _MqttProtocol(_Value[str]):
    """``5`` (an integer or a string) or ``"3.1.1"``."""

    def parse(self, raw: object) -> str:
        if raw in ("5", "3.1.1") or (raw == 5 and not isinstance(raw, bool)):
            return str(raw)
        raise _Invalid(f'must be 5 or "3.1.1", got {_shown(raw)}')

    def literal(self, value: str) -> str:
        return value if value == "5" else _toml_string(value)


class _TopicLevel(_Text):
    """Text that is one MQTT topic level (site, node)."""

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        for char in "+#":
            if char in text:
                raise _Invalid(f"{_shown(text)} must not contain {char!r} (an MQTT wildcard)")
        if "/" in text:
            raise _Invalid(
                f"{_shown(text)} must not contain '/' (it is one topic level; "
                "set mqtt.topic_prefix for a deeper prefix)"
            )
        return text


class _TopicPrefix(_Value[str]):
    """An MQTT topic prefix: levels joined by '/', none empty, no wildcard, no NUL."""

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise _expected("a string", raw)
        if not raw:
            raise _Invalid("must not be empty")
        shown = _shown(raw)
        if "\0" in raw:
            raise _Invalid(f"{shown} must not contain NUL")
        for char in "+#":
            if char in raw:
                raise _Invalid(f"{shown} must not contain {char!r} (an MQTT wildcard)")
        if not raw.isprintable():
            raise _Invalid(f"{shown} has a control character")
        if raw.startswith("/") or raw.endswith("/"):
            raise _Invalid(f"{shown} must not start or end with '/'")
        if "//" in raw:
            raise _Invalid(f"{shown} has an empty topic level")
        if raw.startswith("$"):
            raise _Invalid(f"{shown} must not start with '$' (reserved for the broker)")
        if len(raw.encode()) > 32_000:
            raise _Invalid("is too long for an MQTT topic")
        return raw


class _Host(_Text):
    """A broker host name or IP address."""

    def __init__(self) -> None:
        super().__init__(max_length=253)

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        if "://" in text:
            raise _Invalid(f"{_shown(text)} is a URL; give the host name only (and mqtt.port)")
        if " " in text or "/" in text:
            raise _Invalid(f"{_shown(text)} is not a host name or IP address")
        if ":" in text:
            try:
                ipaddress.IPv6Address(text)
            except ValueError:
                raise _Invalid(f"{_shown(text)}: give the port in mqtt.port") from None
        return text


class _Path(_Value[Path]):
    """A file path; the table makes a relative one relative to the config file's directory."""

    def parse(self, raw: object) -> Path:
        if not isinstance(raw, str):
            raise _expected("a path (a string)", raw)
        if not raw:
            raise _Invalid("must not be empty")
        if "\0" in raw:
            raise _Invalid("must not contain NUL")
        return Path(raw)


class _DevicePath(_Text):
    """An absolute device path, kept as a string (it is compared and shown, not opened here)."""

    def __init__(self) -> None:
        super().__init__(max_length=4096)

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        if not text.startswith("/"):
            raise _Invalid(f"{_shown(text)} must be an absolute path such as /dev/input/by-id/...")
        return text


class _SerialUrl(_Text):
    """A serial device path or a serial URL such as ``socket://host:port``."""

    def __init__(self) -> None:
        super().__init__(max_length=4096)

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        scheme, separator, _ = text.partition("://")
        if separator:
            if scheme not in SERIAL_URL_SCHEMES:
                hint = _did_you_mean(scheme, SERIAL_URL_SCHEMES)
                known = ", ".join(SERIAL_URL_SCHEMES)
                raise _Invalid(f"unknown URL scheme {scheme!r}{hint}; known: {known}")
        elif not text.startswith("/"):
            raise _Invalid(
                f"{_shown(text)} must be an absolute device path (/dev/ttyACM0) "
                "or a URL such as socket://host:port"
            )
        return text


class _Pattern(_Text):
    """Text matching a regular expression (environment variable and credential names)."""

    def __init__(self, pattern: str, what: str) -> None:
        super().__init__(max_length=255)
        self.pattern = re.compile(pattern)
        self.what = what

    def parse(self, raw: object) -> str:
        text = super().parse(raw)
        if not self.pattern.fullmatch(text) or text in (".", ".."):
            raise _Invalid(f"{_shown(text)} is not {self.what}")
        return text


class _Latin1(_Value[bytes]):
    """A string whose code points U+0000-U+00FF each become one byte."""

    def __init__(self, *, allow_empty: bool) -> None:
        self.allow_empty = allow_empty

    def parse(self, raw: object) -> bytes:
        if not isinstance(raw, str):
            raise _expected("a string", raw)
        if not raw and not self.allow_empty:
            raise _Invalid("must not be empty (leave the key out to send nothing)")
        for position, char in enumerate(raw, 1):
            if ord(char) > 0xFF:
                raise _Invalid(
                    f"U+{ord(char):04X} at position {position} is not a single byte "
                    "(only U+0000 to U+00FF can be used)"
                )
        return raw.encode("latin-1")


class _StopBits(_Value[float]):
    def parse(self, raw: object) -> float:
        if isinstance(raw, _TomlFloat) and raw.text == "1.5":
            return 1.5
        if isinstance(raw, int) and not isinstance(raw, bool) and raw in (1, 2):
            return raw
        raise _Invalid(f"must be 1, 1.5 or 2, got {_shown(raw)}")


class _TextList(_Value[tuple[str, ...]]):
    """A non-empty array of distinct texts."""

    def __init__(self, item: _Text) -> None:
        self.item = item

    def parse(self, raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise _expected("an array of strings", raw)
        if not raw:
            raise _Invalid("must not be empty (leave the key out to accept any reason)")
        items: list[str] = []
        for number, element in enumerate(raw, 1):
            try:
                value = self.item.parse(element)
            except _Invalid as error:
                raise _Invalid(f"item {number}: {error}") from None
            if value in items:
                raise _Invalid(f"item {number}: {value!r} is listed twice")
            items.append(value)
        return tuple(items)


# --------------------------------------------------------------------------- tables


class _Report:
    """Collects every problem, so one `edge check-config` shows all of them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.lines.append(f"{self.source}: {key}: {message}")


_D = TypeVar("_D", bound="DataclassInstance")

# A table's cross-key rule: sees the parsed values of the keys given (by TOML key),
# may fill in defaults that depend on other keys, reports problems.
_Check = Callable[[dict[str, Any], str, _Report], None]


@dataclass(frozen=True)
class _Table(Generic[_D]):
    """The schema of one TOML table: each key with its value type, building ``cls``.

    A key sets the dataclass attribute of the same name unless ``renames`` says
    otherwise; a dataclass field without a default is a required key.
    """

    cls: type[_D]
    keys: Mapping[str, _Value[Any]]
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    check: _Check | None = None

    def attribute(self, key: str) -> str:
        return self.renames.get(key, key)

    def parse(
        self,
        raw: object,
        where: str,
        report: _Report,
        base: Path,
        misplaced: Mapping[str, str] | None = None,
    ) -> _D | None:
        """Build ``cls`` from a parsed TOML table, or report why not and return None.

        ``misplaced`` maps keys that are known but wrong here to the message to give.
        """
        if not isinstance(raw, dict):
            report.add(where, f"expected a table, got {_kind(raw)}")
            return None
        problems = len(report.lines)
        values: dict[str, Any] = {}
        for key, item in raw.items():
            value_type = self.keys.get(key)
            if value_type is None:
                if misplaced and key in misplaced:
                    report.add(f"{where}.{key}", misplaced[key])
                else:
                    report.add(f"{where}.{key}", "unknown key" + _did_you_mean(key, self.keys))
                continue
            try:
                value = value_type.parse(item)
            except _Invalid as error:
                report.add(f"{where}.{key}", str(error))
                continue
            if isinstance(value, Path) and not value.is_absolute():
                value = base / value
            values[key] = value
        for field in dataclasses.fields(self.cls):
            key = next((k for k, a in self.renames.items() if a == field.name), field.name)
            required = field.default is dataclasses.MISSING
            if required and key in self.keys and key not in raw:
                report.add(f"{where}.{key}", "required")
        if len(report.lines) > problems:
            return None
        if self.check is not None:
            self.check(values, where, report)
            if len(report.lines) > problems:
                return None
        return self.cls(**{self.attribute(key): value for key, value in values.items()})


def _check_mqtt(values: dict[str, Any], where: str, report: _Report) -> None:
    sources = [
        key for key in ("password_file", "password_env", "password_credential") if key in values
    ]
    if len(sources) > 1:
        report.add(f"{where}.{sources[1]}", f"{sources[0]} is also given; use one password source")
    if sources and "username" not in values:
        report.add(
            f"{where}.{sources[0]}",
            "needs username (MQTT sends a password only with a user name)",
        )
    if "tls_cert" in values and "tls_key" not in values:
        report.add(f"{where}.tls_cert", "needs tls_key (the client certificate's private key)")
    if "tls_key" in values and "tls_cert" not in values:
        report.add(f"{where}.tls_key", "needs tls_cert (the client certificate)")
    tls_files = [key for key in ("tls_ca", "tls_cert") if key in values]
    if tls_files:
        if values.get("tls") is False:
            report.add(f"{where}.tls", f"is false, but {tls_files[0]} is set")
        values["tls"] = True
    if values.get("tls_insecure") and not values.get("tls"):
        report.add(f"{where}.tls_insecure", "has no effect without TLS (set tls = true or tls_ca)")
    if values.get("tls") and "port" not in values:
        values["port"] = MQTT_TLS_PORT


_EVDEV_MATCHES = ("device", "name", "vendor + product", "phys")


def _check_evdev(values: dict[str, Any], where: str, report: _Report) -> None:
    if ("vendor" in values) != ("product" in values):
        present, missing = ("vendor", "product") if "vendor" in values else ("product", "vendor")
        report.add(f"{where}.{missing}", f"required with {present}")
        return
    if "serial" in values and "vendor" not in values:
        report.add(f"{where}.serial", "needs vendor and product (serial narrows a USB id match)")
        return
    given = [match for match in _EVDEV_MATCHES if match.split(" + ")[0] in values]
    if not given:
        report.add(where, "an evdev scanner needs one of: " + ", ".join(_EVDEV_MATCHES))
    elif len(given) > 1:
        report.add(
            where,
            f"{' and '.join(given)} are all given; match by exactly one of: "
            + ", ".join(_EVDEV_MATCHES),
        )


def _check_serial(values: dict[str, Any], where: str, report: _Report) -> None:
    if "url" not in values:
        report.add(f"{where}.url", "required for a serial scanner (a device path or a URL)")
    values.setdefault("idle_ms", SERIAL_DEFAULT_IDLE_MS)


_ID = _Text(max_length=64)

_SITE = _Table(SiteConfig, {"id": _TopicLevel(), "node": _TopicLevel()})

_DATABASE = _Table(DatabaseConfig, {"path": _Path(), "min_free_mb": _Int(0, 1_000_000)})

_MQTT = _Table(
    MqttConfig,
    {
        "host": _Host(),
        "port": _Int(1, 65535),
        "protocol": _MqttProtocol(),
        "topic_prefix": _TopicPrefix(),
        "client_id": _Text(max_length=256),
        "keepalive": _Int(5, 65535),
        "username": _Text(max_length=256),
        "password_file": _Path(),
        "password_env": _Pattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name"),
        "password_credential": _Pattern(r"[^/\0]+", "a credential name (a file name)"),
        "tls": _Bool(),
        "tls_ca": _Path(),
        "tls_cert": _Path(),
        "tls_key": _Path(),
        "tls_insecure": _Bool(),
        "max_inflight": _Int(1, 65535),
        "retention_days": _Float(0, 3650, above=True),
        "outbox_alarm_rows": _Int(1),
        "reconnect_max_s": _Float(1, 3600),
    },
    check=_check_mqtt,
)

_STATION = _Table(
    StationConfig,
    {
        "id": _ID,
        "mode": _Choice(get_args(StationMode)),
        "max_qty": _Quantity(),
        "default_reason": _ID,
        "void_window_s": _Float(0, 86_400),
        "scrap_reasons": _TextList(_ID),
    },
)

_SCANNER_HEAD: dict[str, _Value[Any]] = {
    "id": _ID,
    "station": _ID,
    "kind": _Choice(get_args(ScannerKind)),
}
_EVDEV_KEYS: dict[str, _Value[Any]] = {
    "device": _DevicePath(),
    "name": _Text(max_length=256),
    "vendor": _Int(0, 0xFFFF, hex_digits=4),
    "product": _Int(0, 0xFFFF, hex_digits=4),
    "serial": _Text(max_length=256),
    "phys": _Text(max_length=256),
    "layout": _Text(max_length=64),
    "suffix": _Choice(get_args(WedgeSuffix)),
    "grab": _Bool(),
}
_SERIAL_KEYS: dict[str, _Value[Any]] = {
    "url": _SerialUrl(),
    "baudrate": _Int(50, 4_000_000),
    "bytesize": _Int(5, 8),
    "parity": _Choice(get_args(Parity)),
    "stopbits": _StopBits(),
    "rtscts": _Bool(),
    "xonxoff": _Bool(),
    "terminator": _Choice(get_args(Terminator)),
    "feedback_good": _Latin1(allow_empty=False),
    "feedback_bad": _Latin1(allow_empty=False),
    "prefix": _Latin1(allow_empty=True),
    "suffix": _Latin1(allow_empty=True),
}
_SCANNER_TAIL: dict[str, _Value[Any]] = {
    "idle_ms": _Int(1, 60_000),
    "max_length": _Int(1, 65_536),
    "debounce_ms": _Int(0, 3_600_000),
}
_SCANNERS: Mapping[str, _Table[ScannerConfig]] = {
    "evdev": _Table(
        ScannerConfig, {**_SCANNER_HEAD, **_EVDEV_KEYS, **_SCANNER_TAIL}, check=_check_evdev
    ),
    "serial": _Table(
        ScannerConfig,
        {**_SCANNER_HEAD, **_SERIAL_KEYS, **_SCANNER_TAIL},
        renames={"suffix": "scan_suffix"},
        check=_check_serial,
    ),
}

_TOP_LEVEL = ("log_level", "site", "database", "mqtt", "station", "scanner")


# --------------------------------------------------------------------------- loading


def _read_document(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark left by some editors
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text") from None
    try:
        return tomllib.loads(text, parse_float=_TomlFloat)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {_syntax_message(error)}") from None


def _syntax_message(error: tomllib.TOMLDecodeError) -> str:
    """'Invalid value (at line 3, column 8)' as 'line 3, column 8: TOML syntax: Invalid value'."""
    message = str(error)
    at = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, flags=re.DOTALL)
    if at:
        return f"line {at[2]}, column {at[3]}: TOML syntax: {at[1]}"
    at = re.fullmatch(r"(.*) \(at end of document\)", message, flags=re.DOTALL)
    if at:
        return f"end of file: TOML syntax: {at[1]}"
    return f"TOML syntax: {message}"


def _parse_array(
    document: Mapping[str, Any],
    key: str,
    parse_one: Callable[[object, str], _D | None],
    report: _Report,
) -> tuple[list[tuple[str, _D]], bool]:
    """Parse an array of tables: [(where, object)] for the good ones, and whether all were good."""
    raw = document.get(key, [])
    if isinstance(raw, dict):
        report.add(key, f"must be an array of tables: write [[{key}]], not [{key}]")
        return [], False
    if not isinstance(raw, list):
        report.add(key, f"expected an array of tables ([[{key}]]), got {_kind(raw)}")
        return [], False
    parsed: list[tuple[str, _D]] = []
    for number, item in enumerate(raw, 1):
        where = f"{key}[{number}]"
        result = parse_one(item, where)
        if result is not None:
            parsed.append((where, result))
    return parsed, len(parsed) == len(raw)


def _parse_scanner(raw: object, where: str, report: _Report, base: Path) -> ScannerConfig | None:
    if not isinstance(raw, dict):
        report.add(where, f"expected a table, got {_kind(raw)}")
        return None
    kinds = get_args(ScannerKind)
    if "kind" not in raw:
        report.add(f"{where}.kind", "required (" + " or ".join(kinds) + ")")
        return None
    try:
        kind = _SCANNER_HEAD["kind"].parse(raw["kind"])
    except _Invalid as error:
        report.add(f"{where}.kind", str(error))
        return None
    table = _SCANNERS[kind]
    misplaced = {
        key: f"applies to {other} scanners only; this one is kind = {kind!r}"
        for other, other_table in _SCANNERS.items()
        if other != kind
        for key in other_table.keys
        if key not in table.keys
    }
    return table.parse(raw, where, report, base, misplaced)


def _scanner_device_keys(scanner: ScannerConfig) -> list[tuple[str, str, object]]:
    """What a scanner binds to, as (key, shown value, identity) for finding two on one device."""
    if scanner.kind == "serial" and scanner.url is not None:
        url = scanner.url if "://" in scanner.url else os.path.normpath(scanner.url)
        return [("url", scanner.url, ("url", url))]
    if scanner.device is not None:
        return [("device", scanner.device, ("device", os.path.normpath(scanner.device)))]
    if scanner.name is not None:
        return [("name", scanner.name, ("name", scanner.name))]
    if scanner.phys is not None:
        return [("phys", scanner.phys, ("phys", scanner.phys))]
    if scanner.vendor is not None and scanner.product is not None:
        usb_id = f"{scanner.vendor:04x}:{scanner.product:04x}"
        return [("vendor", usb_id, ("usb", scanner.vendor, scanner.product))]
    return []


def _check_scanners(
    scanners: list[tuple[str, ScannerConfig]],
    stations: list[tuple[str, StationConfig]] | None,
    report: _Report,
) -> None:
    """Ids unique, stations known (when every station parsed), one scanner per device."""
    seen_ids: dict[str, str] = {}
    bound: dict[object, tuple[str, ScannerConfig]] = {}
    station_ids = [station.id for _, station in stations] if stations is not None else None
    for where, scanner in scanners:
        if scanner.id in seen_ids:
            report.add(f"{where}.id", f"{scanner.id!r} is also the id of {seen_ids[scanner.id]}")
        seen_ids.setdefault(scanner.id, where)
        if station_ids is not None and scanner.station not in station_ids:
            hint = _did_you_mean(scanner.station, station_ids)
            known = ", ".join(station_ids) or "none"
            report.add(
                f"{where}.station",
                f"no [[station]] has id {scanner.station!r}{hint}; stations: {known}",
            )
        for key, shown, identity in _scanner_device_keys(scanner):
            other = bound.get(identity)
            if other is None:
                bound[identity] = (where, scanner)
                continue
            other_where, other_scanner = other
            same_usb = key == "vendor"
            if same_usb and scanner.serial and other_scanner.serial != scanner.serial:
                continue
            what = "USB id" if same_usb else key
            advice = "; add serial to both, or match by phys" if same_usb else ""
            report.add(
                f"{where}.{key}",
                f"{what} {shown!r} is also bound to {other_where} ({other_scanner.id}){advice}",
            )


def load_config(path: Path) -> Config:
    """Read and validate a config file; ConfigError lists everything wrong with it."""
    path = Path(path)
    document = _read_document(path)
    report = _Report(str(path))
    base = path.absolute().parent

    for key, value in document.items():
        if key not in _TOP_LEVEL:
            what = "table" if isinstance(value, dict | list) else "key"
            report.add(key, f"unknown {what}" + _did_you_mean(key, _TOP_LEVEL))

    log_level = "INFO"
    if "log_level" in document:
        try:
            log_level = _LogLevel().parse(document["log_level"])
        except _Invalid as error:
            report.add("log_level", str(error))

    site = None
    if "site" in document:
        site = _SITE.parse(document["site"], "site", report, base)
    else:
        report.add("site", "required: the file needs a [site] table with id and node")
    database = _DATABASE.parse(document.get("database", {}), "database", report, base)
    mqtt = _MQTT.parse(document.get("mqtt", {}), "mqtt", report, base)

    stations, stations_ok = _parse_array(
        document, "station", lambda raw, where: _STATION.parse(raw, where, report, base), report
    )
    first_use: dict[str, str] = {}
    for where, station in stations:
        if station.id in first_use:
            report.add(f"{where}.id", f"{station.id!r} is also the id of {first_use[station.id]}")
        first_use.setdefault(station.id, where)
    scanners, _ = _parse_array(
        document, "scanner", lambda raw, where: _parse_scanner(raw, where, report, base), report
    )
    _check_scanners(scanners, stations if stations_ok else None, report)

    if report.lines or site is None or database is None or mqtt is None:
        raise ConfigError("\n".join(report.lines))
    return Config(
        source=path.absolute(),
        site=site,
        database=database,
        mqtt=mqtt,
        stations=tuple(station for _, station in stations),
        scanners=tuple(scanner for _, scanner in scanners),
        log_level=log_level,
    )


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


# --------------------------------------------------------------------------- checking and printing


def config_warnings(config: Config) -> list[str]:
    """Problems that do not stop the daemon but that an installer should see.

    Unlike load_config, this looks at the machine it runs on (files, devices,
    environment), so run it as the daemon's user for accurate answers.
    """
    warnings: list[str] = []

    def warn(key: str, message: str) -> None:
        warnings.append(f"{config.source}: {key}: {message}")

    mqtt = config.mqtt
    if mqtt.protocol == "3.1.1":
        warn(
            "mqtt.protocol",
            "with MQTT 3.1.1 a publish the broker refuses (an ACL denial) looks delivered "
            "and the event is lost to its consumers; use 5 unless the broker cannot",
        )
    if mqtt.password_file is not None:
        warn_file = _secret_file_problem(mqtt.password_file)
        if warn_file:
            warn("mqtt.password_file", warn_file)
    if mqtt.password_env is not None and mqtt.password_env not in os.environ:
        warn("mqtt.password_env", f"environment variable {mqtt.password_env} is not set here")
    if mqtt.password_credential is not None:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            warn(
                "mqtt.password_credential",
                "$CREDENTIALS_DIRECTORY is not set here; the password can only be read when "
                f"systemd starts the daemon with LoadCredential={mqtt.password_credential}:...",
            )
        elif not (Path(directory) / mqtt.password_credential).is_file():
            warn("mqtt.password_credential", f"no credential {mqtt.password_credential!r}")
    for key in ("tls_ca", "tls_cert", "tls_key"):
        tls_path: Path | None = getattr(mqtt, key)
        if tls_path is not None and not tls_path.is_file():
            warn(f"mqtt.{key}", f"{tls_path} does not exist")
    if mqtt.tls_insecure:
        warn(
            "mqtt.tls_insecure",
            "the broker's certificate is not checked against its host name; "
            "anyone who can get a certificate from the same CA can pose as the broker",
        )

    if not config.database.path.parent.is_dir():
        warn("database.path", f"directory {config.database.path.parent} does not exist")

    if not config.stations:
        warn("station", "no [[station]] is configured; no scan can be processed")
    for number, station in enumerate(config.stations, 1):
        if station.scrap_reasons is not None and station.mode != "scrap":
            warn(f"station[{number}].scrap_reasons", f"has no effect at a {station.mode} station")

    resolved: dict[str, str] = {}
    for number, scanner in enumerate(config.scanners, 1):
        where = f"scanner[{number}]"
        if scanner.kind == "evdev" and scanner.device is not None:
            key, device = "device", scanner.device
        elif scanner.kind == "serial" and scanner.url and "://" not in scanner.url:
            key, device = "url", scanner.url
        else:
            continue
        if not Path(device).exists():
            warn(f"{where}.{key}", f"{device} does not exist (not plugged in?)")
            continue
        real = str(Path(device).resolve())
        if real in resolved:
            warn(f"{where}.{key}", f"{device} is the same device ({real}) as {resolved[real]}")
        resolved.setdefault(real, where)
    return warnings


def _secret_file_problem(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    if not stat.S_ISREG(mode):
        return f"{path} is not a regular file"
    if mode & stat.S_IROTH:
        return f"{path} is readable by every user; chmod o-r {path}"
    if not os.access(path, os.R_OK):
        return f"{path} cannot be read by this user"
    return None


def _table_lines(
    header: str,
    table: _Table[Any],
    settings: object,
    *,
    unset: Mapping[str, str] | None = None,
    after: Mapping[str, str] | None = None,
) -> list[str]:
    """One table as TOML. An unset key is a comment (``unset`` can say what applies
    instead); ``after`` adds a comment line after a key."""
    lines = [header]
    for key, value_type in table.keys.items():
        value = getattr(settings, table.attribute(key))
        if value is not None:
            lines.append(f"{key} = {value_type.literal(value)}")
        elif unset and key in unset:
            lines.append(f"# {key} = {unset[key]}")
        else:
            lines.append(f"# {key} = (not set)")
        if after and key in after:
            lines.append(after[key])
    return [*lines, ""]


def format_config(config: Config) -> str:
    """The effective configuration as TOML, for `edge check-config`.

    Defaults are filled in and paths are absolute, so the output loads back to
    the same settings. The password is never read: a configured one shows as
    ``********`` in a comment.
    """
    mqtt = config.mqtt
    derived = "(not set: from site.id and site.node)"
    unset = {
        "topic_prefix": f"{_toml_string(config.topic_prefix)}  {derived}",
        "client_id": f"{_toml_string(config.client_id)}  {derived}",
    }
    after: dict[str, str] = {}
    source = mqtt.password_source
    if source is not None:
        after[source] = f'# password = "********"  (read from {source} when connecting)'
    lines = [
        f"# {config.source}, as loaded (defaults filled in, relative paths resolved)",
        f"log_level = {_toml_string(config.log_level)}",
        "",
        *_table_lines("[site]", _SITE, config.site),
        *_table_lines("[database]", _DATABASE, config.database),
        *_table_lines("[mqtt]", _MQTT, mqtt, unset=unset, after=after),
    ]
    for station in config.stations:
        lines += _table_lines("[[station]]", _STATION, station)
    for scanner in config.scanners:
        lines += _table_lines("[[scanner]]", _SCANNERS[scanner.kind], scanner)
    return "\n".join(lines).rstrip("\n") + "\n"
