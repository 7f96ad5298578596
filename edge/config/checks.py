"""Rules across the keys of one table, and the defaults that depend on other keys.

Each rule sees the values parsed from one table (by TOML key), reports what does
not fit together and fills in the defaults that depend on other keys: port 8883
with TLS, TLS on whenever a CA or client certificate is given, and the serial
scanners' longer idle flush.
"""

from __future__ import annotations

from typing import Any, Final

from edge.config.problems import Report
from hardware.evdev.match import MATCH_RULES
from hardware.serial.framing import DEFAULT_IDLE_MS as SERIAL_DEFAULT_IDLE_MS

__all__ = ["EVDEV_MATCHES", "MQTT_TLS_PORT", "check_evdev", "check_mqtt", "check_serial"]

MQTT_TLS_PORT: Final = 8883


def check_mqtt(values: dict[str, Any], where: str, report: Report) -> None:
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


# The reader's match rules, as messages here spell them ("vendor + product").
EVDEV_MATCHES = tuple(rule.replace("+", " + ") for rule in MATCH_RULES)


def check_evdev(values: dict[str, Any], where: str, report: Report) -> None:
    if ("vendor" in values) != ("product" in values):
        present, missing = ("vendor", "product") if "vendor" in values else ("product", "vendor")
        report.add(f"{where}.{missing}", f"required with {present}")
        return
    if "serial" in values and "vendor" not in values:
        report.add(f"{where}.serial", "needs vendor and product (serial narrows a USB id match)")
        return
    given = [match for match in EVDEV_MATCHES if match.split(" + ")[0] in values]
    if not given:
        report.add(where, "an evdev scanner needs one of: " + ", ".join(EVDEV_MATCHES))
    elif len(given) > 1:
        report.add(
            where,
            f"{' and '.join(given)} are all given; match by exactly one of: "
            + ", ".join(EVDEV_MATCHES),
        )


def check_serial(values: dict[str, Any], where: str, report: Report) -> None:
    if "url" not in values:
        report.add(f"{where}.url", "required for a serial scanner (a device path or a URL)")
    values.setdefault("idle_ms", SERIAL_DEFAULT_IDLE_MS)
