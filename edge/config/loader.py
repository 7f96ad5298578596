"""Loading: the config file read, parsed as TOML and validated into a :class:`Config`.

Beside each table's own schema, the loader checks what spans tables: station ids
are unique, each scanner names a known station, and no two scanners bind one
device.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from edge.config.problems import ConfigError, Invalid, Report, did_you_mean
from edge.config.schema import declared
from edge.config.settings import (
    COMMANDS_TABLE,
    DATABASE_TABLE,
    DISPLAY_TABLE,
    INVENTORY_TABLE,
    MQTT_TABLE,
    SCANNER_TABLES,
    SITE_TABLE,
    STATION_TABLE,
    Config,
    ScannerConfig,
    ScannerKind,
    StationConfig,
)
from edge.config.values import TomlFloat, toml_type

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["load_config"]

_D = TypeVar("_D", bound="DataclassInstance")

_TOP_LEVEL = (
    *("log_level", "site", "database", "mqtt", "commands", "inventory", "display"),
    *("station", "scanner"),
)
_LOG_LEVEL = declared(Config, "log_level").value_type
_SCANNER_KIND = declared(ScannerConfig, "kind").value_type


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
        return tomllib.loads(text, parse_float=TomlFloat)
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
    report: Report,
) -> tuple[list[tuple[str, _D]], bool]:
    """Parse an array of tables: [(where, object)] for the good ones, and whether all were good."""
    raw = document.get(key, [])
    if isinstance(raw, dict):
        report.add(key, f"must be an array of tables: write [[{key}]], not [{key}]")
        return [], False
    if not isinstance(raw, list):
        report.add(key, f"expected an array of tables ([[{key}]]), got {toml_type(raw)}")
        return [], False
    parsed: list[tuple[str, _D]] = []
    for number, item in enumerate(raw, 1):
        where = f"{key}[{number}]"
        result = parse_one(item, where)
        if result is not None:
            parsed.append((where, result))
    return parsed, len(parsed) == len(raw)


def _parse_scanner(raw: object, where: str, report: Report, base: Path) -> ScannerConfig | None:
    if not isinstance(raw, dict):
        report.add(where, f"expected a table, got {toml_type(raw)}")
        return None
    kinds = get_args(ScannerKind)
    if "kind" not in raw:
        report.add(f"{where}.kind", "required (" + " or ".join(kinds) + ")")
        return None
    try:
        kind = _SCANNER_KIND.parse(raw["kind"])
    except Invalid as error:
        report.add(f"{where}.kind", str(error))
        return None
    table = SCANNER_TABLES[kind]
    misplaced = {
        key: f"applies to {other} scanners only; this one is kind = {kind!r}"
        for other, other_table in SCANNER_TABLES.items()
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
    report: Report,
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
            hint = did_you_mean(scanner.station, station_ids)
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
    report = Report(str(path))
    base = path.absolute().parent

    for key, value in document.items():
        if key not in _TOP_LEVEL:
            what = "table" if isinstance(value, dict | list) else "key"
            report.add(key, f"unknown {what}" + did_you_mean(key, _TOP_LEVEL))

    settings: dict[str, Any] = {}  # the keys at the top of the file; left out, the default
    if "log_level" in document:
        try:
            settings["log_level"] = _LOG_LEVEL.parse(document["log_level"])
        except Invalid as error:
            report.add("log_level", str(error))

    site = None
    if "site" in document:
        site = SITE_TABLE.parse(document["site"], "site", report, base)
    else:
        report.add("site", "required: the file needs a [site] table with id and node")
    database = DATABASE_TABLE.parse(document.get("database", {}), "database", report, base)
    mqtt = MQTT_TABLE.parse(document.get("mqtt", {}), "mqtt", report, base)
    commands = COMMANDS_TABLE.parse(document.get("commands", {}), "commands", report, base)
    inventory = INVENTORY_TABLE.parse(document.get("inventory", {}), "inventory", report, base)
    display = DISPLAY_TABLE.parse(document.get("display", {}), "display", report, base)

    stations, stations_ok = _parse_array(
        document,
        "station",
        lambda raw, where: STATION_TABLE.parse(raw, where, report, base),
        report,
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

    if (
        report.lines
        or site is None
        or database is None
        or mqtt is None
        or commands is None
        or inventory is None
        or display is None
    ):
        raise ConfigError("\n".join(report.lines))
    return Config(
        source=path.absolute(),
        site=site,
        database=database,
        mqtt=mqtt,
        stations=tuple(station for _, station in stations),
        scanners=tuple(scanner for _, scanner in scanners),
        commands=commands,
        inventory=inventory,
        display=display,
        **settings,
    )
