"""What ``edge check-config`` shows: warnings about this machine, and the effective config."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edge.config.addresses import is_loopback, split_listen
from edge.config.schema import Table
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
)
from edge.config.values import toml_string
from edge.domain.model import StationMode

__all__ = ["config_warnings", "format_config"]


def _display_warnings(config: Config) -> list[str]:
    listen = config.display.listen
    if listen is None or is_loopback(split_listen(listen)[0]):
        return []
    return [
        f"{config.source}: display.listen: {listen} serves the station display, /metrics and "
        "/healthz to the network without a password; keep it on the line's own network "
        "(see the README)"
    ]


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
            "and the event is lost to its consumers, and the broker announces no size "
            "limit (set mqtt.max_payload_bytes to the broker's); use 5 unless the broker "
            "cannot",
        )
    if config.commands.enabled and mqtt.protocol == "3.1.1":
        warn(
            "commands.enabled",
            "with MQTT 3.1.1 commands get no answer on a response topic (only the "
            "command-result event) and a retained command cannot be told from a live one "
            "(no Retain As Published); use 5",
        )
    warnings.extend(_display_warnings(config))
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
        if station.scrap_reasons is not None and station.mode is not StationMode.SCRAP:
            warn(f"station[{number}].scrap_reasons", f"has no effect at a {station.mode} station")
        if station.issue_reasons is not None and station.mode is not StationMode.ISSUE:
            warn(f"station[{number}].issue_reasons", f"has no effect at a {station.mode} station")

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
    table: Table[Any],
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
        "topic_prefix": f"{toml_string(config.topic_prefix)}  {derived}",
        "client_id": f"{toml_string(config.client_id)}  {derived}",
    }
    after: dict[str, str] = {}
    source = mqtt.password_source
    if source is not None:
        after[source] = f'# password = "********"  (read from {source} when connecting)'
    lines = [
        f"# {config.source}, as loaded (defaults filled in, relative paths resolved)",
        f"log_level = {toml_string(config.log_level)}",
        "",
        *_table_lines("[site]", SITE_TABLE, config.site),
        *_table_lines("[database]", DATABASE_TABLE, config.database),
        *_table_lines("[mqtt]", MQTT_TABLE, mqtt, unset=unset, after=after),
        *_table_lines("[commands]", COMMANDS_TABLE, config.commands),
        *_table_lines("[inventory]", INVENTORY_TABLE, config.inventory),
        *_table_lines("[display]", DISPLAY_TABLE, config.display),
    ]
    for station in config.stations:
        lines += _table_lines("[[station]]", STATION_TABLE, station)
    for scanner in config.scanners:
        lines += _table_lines("[[scanner]]", SCANNER_TABLES[scanner.kind], scanner)
    return "\n".join(lines).rstrip("\n") + "\n"
