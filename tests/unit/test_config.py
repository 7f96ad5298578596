"""Config loading: the example file, every rejection rule, secrets, paths and bytes."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.config import (
    DEFAULT_DATABASE_PATH,
    Config,
    ConfigError,
    MqttConfig,
    config_warnings,
    format_config,
    load_config,
)
from edge.deploy import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG

SITE = """
[site]
id = "plant-1"
node = "pack-edge-01"
"""

STATIONS = """
[[station]]
id = "PACK-1"
mode = "ship"

[[station]]
id = "SCRAP-3"
mode = "scrap"
"""

EVDEV = """
[[scanner]]
id = "hid-1"
station = "PACK-1"
kind = "evdev"
device = "/dev/input/by-id/usb-scanner-event-kbd"
"""

SERIAL = """
[[scanner]]
id = "serial-1"
station = "SCRAP-3"
kind = "serial"
url = "/dev/ttyACM0"
"""

SECRET = "s3cr3t-Pa55w0rd"


def write(tmp_path: Path, text: str, name: str = "edge.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text))


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


# --------------------------------------------------------------------------- the example


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)

    assert config.source == EXAMPLE
    assert config.site.id == "plant-1"
    assert config.site.node == "pack-edge-01"
    assert config.database.path == Path("/var/lib/backflush-edge/edge.db")
    assert config.database.path == DEFAULT_DATABASE_PATH
    assert [(s.id, s.mode) for s in config.stations] == [
        ("PACK-1", "ship"),
        ("SCRAP-3", "scrap"),
        ("BUILD-1", "build"),
        ("LAB-1", "issue"),
    ]
    hid, serial = config.scanners
    assert (hid.kind, hid.station, hid.device) == (
        "evdev",
        "PACK-1",
        "/dev/input/by-id/usb-Honeywell_Imaging_1900-event-kbd",
    )
    assert (serial.kind, serial.station, serial.url) == ("serial", "SCRAP-3", "/dev/ttyACM0")
    assert serial.feedback_good == b"\x06"
    assert serial.feedback_bad == b"\x15"
    assert config.topic_prefix == "backflush/plant-1/pack-edge-01"
    assert config.mqtt.protocol == "5"


def test_example_documents_every_key() -> None:
    """Each key the loader knows appears in the example, set or commented out.

    format_config prints every key of each table, and the example has a
    scanner of each kind, so its output names every key there is.
    """
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = {
        line.removeprefix("# ").split(" = ")[0]
        for line in format_config(load_config(EXAMPLE)).splitlines()
        if " = " in line
    }
    missing = [key for key in sorted(keys) if f"{key} =" not in text]

    assert len(keys) > 50
    assert missing == []


def test_minimal_config_takes_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, SITE)

    assert config.database.path == DEFAULT_DATABASE_PATH
    assert config.database.min_free_mb == 64
    assert config.mqtt == MqttConfig()
    assert config.stations == ()
    assert config.scanners == ()
    assert config.log_level == "INFO"
    assert config.topic_prefix == "backflush/plant-1/pack-edge-01"
    assert config.client_id == "backflush-plant-1-pack-edge-01"


def test_station_lookup(tmp_path: Path) -> None:
    config = load(tmp_path, SITE + STATIONS)

    assert config.station("SCRAP-3").mode == "scrap"
    with pytest.raises(KeyError):
        config.station("NOPE")


# --------------------------------------------------------------------------- rejections

# (extra TOML, text the message must contain). Each case is SITE + STATIONS + the extra
# TOML unless the extra starts with "!", which replaces the whole file.
BAD = [
    # required tables and keys
    ("!", "edge.toml: site: required"),
    ('![site]\nid = "plant-1"\n', "edge.toml: site.node: required"),
    ('!site = "plant-1"\n', "edge.toml: site: expected a table, got a string"),
    # unknown keys and tables
    ("[mqtt]\nprot = 5\n", "edge.toml: mqtt.prot: unknown key (did you mean 'protocol'?)"),
    ("[mqtt]\nhots = 'x'\n", "edge.toml: mqtt.hots: unknown key (did you mean 'host'?)"),
    ("[mqt]\nhost = 'x'\n", "edge.toml: mqt: unknown table (did you mean 'mqtt'?)"),
    (
        "[[stations]]\nid = 'X'\nmode = 'ship'\n",
        "edge.toml: stations: unknown table (did you mean 'station'?)",
    ),
    ("[database]\npth = 'x.db'\n", "edge.toml: database.pth: unknown key (did you mean 'path'?)"),
    (
        "!" + SITE + "[station]\nid = 'X'\n",
        "station: must be an array of tables: write [[station]]",
    ),
    ("!station = 5\n" + SITE, "station: expected an array of tables ([[station]]), got an"),
    ("!scanner = [1]\n" + SITE, "edge.toml: scanner[1]: expected a table, got an integer"),
    # types: a bool is not an int, a string is not a number
    ("[mqtt]\nport = true\n", "edge.toml: mqtt.port: expected an integer, got a boolean (true)"),
    ("[mqtt]\nport = '1883'\n", "edge.toml: mqtt.port: expected an integer, got a string ('1883')"),
    ("[mqtt]\nport = 1883.0\n", "mqtt.port: expected an integer, got a float (1883.0)"),
    ("[mqtt]\ntls_insecure = 1\n", "mqtt.tls_insecure: expected true or false, got an integer"),
    ("[mqtt]\nhost = ['a']\n", "mqtt.host: expected a string, got an array"),
    ("[database]\npath = 5\n", "database.path: expected a path (a string), got an integer (5)"),
    # ranges
    ("[mqtt]\nport = 0\n", "edge.toml: mqtt.port: must be between 1 and 65535, got 0"),
    ("[mqtt]\nport = 65536\n", "mqtt.port: must be between 1 and 65535, got 65536"),
    ("[mqtt]\nkeepalive = 4\n", "mqtt.keepalive: must be between 5 and 65535, got 4"),
    ("[mqtt]\nmax_inflight = 0\n", "mqtt.max_inflight: must be between 1 and 65535, got 0"),
    ("[mqtt]\nretention_days = 0\n", "mqtt.retention_days: must be greater than 0, got 0"),
    ("[mqtt]\nretention_days = nan\n", "mqtt.retention_days: must be a finite number, got nan"),
    ("[mqtt]\nreconnect_max_s = inf\n", "mqtt.reconnect_max_s: must be a finite number, got inf"),
    ("[mqtt]\noutbox_alarm_rows = 0\n", "mqtt.outbox_alarm_rows: must be at least 1, got 0"),
    ("[database]\nmin_free_mb = -1\n", "database.min_free_mb: must be between 0 and 1000000"),
    ("[mqtt]\nprotocol = 4\n", 'mqtt.protocol: must be 5 or "3.1.1", got 4'),
    ("[mqtt]\nprotocol = '3.1'\n", "mqtt.protocol: must be 5 or \"3.1.1\", got '3.1'"),
    (
        "!log_level = 'verbose'\n" + SITE,
        "edge.toml: log_level: 'verbose' is not one of DEBUG, INFO",
    ),
    # MQTT host
    ("[mqtt]\nhost = 'mqtt://broker'\n", "mqtt.host: 'mqtt://broker' is a URL"),
    ("[mqtt]\nhost = 'broker:1883'\n", "mqtt.host: 'broker:1883': give the port in mqtt.port"),
    ("[mqtt]\nhost = ''\n", "mqtt.host: must not be empty"),
    # topic levels and prefix
    ('![site]\nid = "plant+1"\nnode = "n"\n', "site.id: 'plant+1' must not contain '+'"),
    ('![site]\nid = "p"\nnode = "n#"\n', "site.node: 'n#' must not contain '#'"),
    ('![site]\nid = "a/b"\nnode = "n"\n', "site.id: 'a/b' must not contain '/'"),
    ('![site]\nid = ""\nnode = "n"\n', "site.id: must not be empty"),
    ('![site]\nid = "p\\u0000"\nnode = "n"\n', "site.id: 'p\\x00' has a control character"),
    ('![site]\nid = " p"\nnode = "n"\n', "site.id: ' p' has leading or trailing blanks"),
    ("[mqtt]\ntopic_prefix = '/a/b'\n", "mqtt.topic_prefix: '/a/b' must not start or end with '/'"),
    ("[mqtt]\ntopic_prefix = 'a/b/'\n", "mqtt.topic_prefix: 'a/b/' must not start or end"),
    ("[mqtt]\ntopic_prefix = 'a//b'\n", "mqtt.topic_prefix: 'a//b' has an empty topic level"),
    ("[mqtt]\ntopic_prefix = 'a/+/b'\n", "mqtt.topic_prefix: 'a/+/b' must not contain '+'"),
    ("[mqtt]\ntopic_prefix = 'a/#'\n", "mqtt.topic_prefix: 'a/#' must not contain '#'"),
    ('[mqtt]\ntopic_prefix = "a\\u0000b"\n', "mqtt.topic_prefix: 'a\\x00b' must not contain NUL"),
    ("[mqtt]\ntopic_prefix = '$SYS/x'\n", "mqtt.topic_prefix: '$SYS/x' must not start with '$'"),
    ("[mqtt]\ntopic_prefix = ''\n", "mqtt.topic_prefix: must not be empty"),
    # passwords and TLS
    (
        "[mqtt]\nusername = 'u'\npassword_file = 'p'\npassword_env = 'P'\n",
        "mqtt.password_env: password_file is also given; use one password source",
    ),
    ("[mqtt]\npassword_file = 'p'\n", "mqtt.password_file: needs username"),
    ("[mqtt]\nusername = 'u'\npassword_env = '1X'\n", "mqtt.password_env: '1X' is not an env"),
    (
        "[mqtt]\nusername = 'u'\npassword_credential = 'a/b'\n",
        "mqtt.password_credential: 'a/b' is not a credential name",
    ),
    ("[mqtt]\ntls_cert = 'c.pem'\n", "mqtt.tls_cert: needs tls_key"),
    ("[mqtt]\ntls_key = 'k.pem'\n", "mqtt.tls_key: needs tls_cert"),
    ("[mqtt]\ntls_insecure = true\n", "mqtt.tls_insecure: has no effect without TLS"),
    ("[mqtt]\ntls = false\ntls_ca = 'ca.pem'\n", "mqtt.tls: is false, but tls_ca is set"),
    # stations
    (
        "[[station]]\nid = 'X'\nmode = 'shp'\n",
        "edge.toml: station[3].mode: 'shp' is not one of ship, scrap, build, issue, receive "
        "(did you mean 'ship'?)",
    ),
    ("[[station]]\nid = 'X'\n", "edge.toml: station[3].mode: required"),
    ("[[station]]\nmode = 'ship'\n", "edge.toml: station[3].id: required"),
    ("[[station]]\nid = ''\nmode = 'ship'\n", "station[3].id: must not be empty"),
    ("[[station]]\nid = 'PACK-1'\nmode = 'build'\n", "station[3].id: 'PACK-1' is also the id of"),
    ("[[station]]\nid = 'X'\nmode = 'ship'\nmax_qty = 0\n", "station[3].max_qty: must be greater"),
    ("[[station]]\nid = 'X'\nmode = 'ship'\nmax_qty = -5\n", "station[3].max_qty: must be greater"),
    (
        "[[station]]\nid = 'X'\nmode = 'ship'\nmax_qty = '1e3'\n",
        "station[3].max_qty: '1e3' is not an exact decimal",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'ship'\nmax_qty = 1e3\n",
        "station[3].max_qty: '1e3' is not an exact decimal",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'ship'\nmax_qty = '0.1234567'\n",
        "station[3].max_qty: '0.1234567' is not an exact decimal",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'ship'\nmax_qty = '1_000'\n",
        "station[3].max_qty: '1_000' is not an exact decimal",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'ship'\nmax_qty = true\n",
        "station[3].max_qty: expected a quantity, got a boolean",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'ship'\nvoid_window_s = -1\n",
        "station[3].void_window_s: must be between 0 and 86400, got -1",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'scrap'\nscrap_reasons = []\n",
        "station[3].scrap_reasons: must not be empty",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'scrap'\nscrap_reasons = ['A', 'A']\n",
        "station[3].scrap_reasons: item 2: 'A' is listed twice",
    ),
    (
        "[[station]]\nid = 'X'\nmode = 'scrap'\nscrap_reasons = ['A', 3]\n",
        "station[3].scrap_reasons: item 2: expected a string, got an integer",
    ),
    # scanners: ids, stations, devices
    (EVDEV + EVDEV.replace("usb-scanner", "usb-other"), "scanner[2].id: 'hid-1' is also the id of"),
    (
        EVDEV.replace('"PACK-1"', '"PACK-2"'),
        "scanner[1].station: no [[station]] has id 'PACK-2' (did you mean 'PACK-1'?)",
    ),
    (
        EVDEV + EVDEV.replace("hid-1", "hid-2"),
        "scanner[2].device: device '/dev/input/by-id/usb-scanner-event-kbd' is also bound to "
        "scanner[1] (hid-1)",
    ),
    (SERIAL + SERIAL.replace("serial-1", "serial-2"), "scanner[2].url: url '/dev/ttyACM0' is also"),
    (
        SERIAL.replace("/dev/ttyACM0", "socket://10.0.0.5:2001")
        + SERIAL.replace("serial-1", "serial-2").replace("/dev/ttyACM0", "socket://10.0.0.5:2001"),
        "scanner[2].url: url 'socket://10.0.0.5:2001' is also bound to scanner[1]",
    ),
    (
        "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'evdev'\nvendor = 1\nproduct = 2\n"
        "[[scanner]]\nid = 'b'\nstation = 'PACK-1'\nkind = 'evdev'\nvendor = 1\nproduct = 2\n",
        "scanner[2].vendor: USB id '0001:0002' is also bound to scanner[1] (a); add serial",
    ),
    ("[[scanner]]\nid = 'a'\nstation = 'PACK-1'\n", "scanner[1].kind: required (evdev or serial)"),
    (
        "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'usb'\n",
        "scanner[1].kind: 'usb' is not one of evdev, serial",
    ),
    (
        "[[scanner]]\nstation = 'PACK-1'\nkind = 'evdev'\nname = 'x'\n",
        "scanner[1].id: required",
    ),
    # evdev matching
    (
        "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'evdev'\n",
        "scanner[1]: an evdev scanner needs one of: device, name, vendor + product, phys",
    ),
    (
        EVDEV + "name = 'Scanner'\n",
        "scanner[1]: device and name are all given; match by exactly one of",
    ),
    (
        "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'evdev'\nvendor = 0x0c2e\n",
        "scanner[1].product: required with vendor",
    ),
    (
        "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'evdev'\nserial = 'X'\nphys = 'p'\n",
        "scanner[1].serial: needs vendor and product",
    ),
    (
        "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'evdev'\n"
        "vendor = 0x10000\nproduct = 1\n",
        "scanner[1].vendor: must be between 0 and 65535, got 65536",
    ),
    (EVDEV.replace("/dev/input/by-id/", "by-id/"), "scanner[1].device: 'by-id/usb-scanner-event"),
    (EVDEV + "suffix = 'return'\n", "scanner[1].suffix: 'return' is not one of enter, tab, none"),
    (EVDEV + "grab = 'yes'\n", "scanner[1].grab: expected true or false, got a string ('yes')"),
    (EVDEV + "idle_ms = 1.5\n", "scanner[1].idle_ms: expected an integer, got a float (1.5)"),
    (EVDEV + "debounce_ms = -1\n", "scanner[1].debounce_ms: must be between 0 and 3600000"),
    (EVDEV + "max_length = 0\n", "scanner[1].max_length: must be between 1 and 65536, got 0"),
    # keys of the other kind
    (
        EVDEV + "feedback_good = '\\u0006'\n",
        "scanner[1].feedback_good: applies to serial scanners only; this one is kind = 'evdev'",
    ),
    (SERIAL + "grab = false\n", "scanner[1].grab: applies to evdev scanners only"),
    (SERIAL + "baudrat = 9600\n", "scanner[1].baudrat: unknown key (did you mean 'baudrate'?)"),
    # serial
    (
        "[[scanner]]\nid = 'a'\nstation = 'SCRAP-3'\nkind = 'serial'\n",
        "scanner[1].url: required for a serial scanner",
    ),
    (SERIAL.replace("/dev/ttyACM0", "ttyACM0"), "scanner[1].url: 'ttyACM0' must be an absolute"),
    (
        SERIAL.replace("/dev/ttyACM0", "sockt://h:1"),
        "scanner[1].url: unknown URL scheme 'sockt' (did you mean 'socket'?)",
    ),
    (SERIAL + "parity = 'X'\n", "scanner[1].parity: 'X' is not one of N, E, O, M, S"),
    (SERIAL + "stopbits = 3\n", "scanner[1].stopbits: must be 1, 1.5 or 2, got 3"),
    (SERIAL + "stopbits = 1.25\n", "scanner[1].stopbits: must be 1, 1.5 or 2, got 1.25"),
    (SERIAL + "bytesize = 9\n", "scanner[1].bytesize: must be between 5 and 8, got 9"),
    (SERIAL + "baudrate = 0\n", "scanner[1].baudrate: must be between 50 and 4000000"),
    (SERIAL + "terminator = 'crr'\n", "scanner[1].terminator: 'crr' is not one of any, cr,"),
    (
        SERIAL + "feedback_good = '\u20ac'\n",
        "scanner[1].feedback_good: U+20AC at position 1 is not a single byte",
    ),
    (SERIAL + 'prefix = "ab\\u0100"\n', "scanner[1].prefix: U+0100 at position 3 is not a single"),
    (SERIAL + "feedback_bad = ''\n", "scanner[1].feedback_bad: must not be empty"),
    (SERIAL + "suffix = 13\n", "scanner[1].suffix: expected a string, got an integer (13)"),
]


@pytest.mark.parametrize(("extra", "expected"), BAD, ids=[case[1][:60] for case in BAD])
def test_bad_config_is_rejected_naming_the_key(tmp_path: Path, extra: str, expected: str) -> None:
    text = extra[1:] if extra.startswith("!") else SITE + STATIONS + extra
    message = error_of(tmp_path, text)

    assert expected in message
    assert message.startswith(str(tmp_path / "edge.toml") + ": ")


def test_did_you_mean_example_messages(tmp_path: Path) -> None:
    path = write(tmp_path, SITE + "[mqtt]\nprot = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: mqtt.prot: unknown key (did you mean 'protocol'?)"

    text = SITE + STATIONS + "[[station]]\nid = 'X'\nmode = 'shp'\n"
    assert error_of(tmp_path, text).endswith(
        "edge.toml: station[3].mode: 'shp' is not one of ship, scrap, build, issue, receive "
        "(did you mean 'ship'?)"
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = SITE + "[mqtt]\nport = 0\nkeepalive = 1\n[[station]]\nid = 'A'\nmode = 'x'\n"
    lines = error_of(tmp_path, text).splitlines()

    assert len(lines) == 3
    assert [line.split(": ")[1] for line in lines] == [
        "mqtt.port",
        "mqtt.keepalive",
        "station[1].mode",
    ]


def test_unknown_station_is_not_claimed_when_stations_are_broken(tmp_path: Path) -> None:
    """A broken [[station]] is reported once, not again through every scanner bound to it."""
    text = SITE + "[[station]]\nid = 'PACK-1'\nmode = 'x'\n" + EVDEV
    lines = error_of(tmp_path, text).splitlines()

    assert len(lines) == 1
    assert "station[1].mode" in lines[0]


def test_a_password_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    message = error_of(tmp_path, SITE + f"[mqtt]\nusername = 'u'\npassword = '{SECRET}'\n")

    assert "mqtt.password: unknown key" in message
    assert SECRET not in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"absent\.toml: no such file"):
        load_config(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[site]\nid = "plant-1"\nnode = pack\n')

    assert message.startswith(f"{tmp_path / 'edge.toml'}: line 3, column 8: TOML syntax: ")
    assert "\n" not in message


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_bytes(b'[site]\nid = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"edge\.toml: line 2: not UTF-8 text"):
        load_config(path)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SITE.encode())

    assert load_config(path).site.id == "plant-1"


# --------------------------------------------------------------------------- values


def test_exact_quantities(tmp_path: Path) -> None:
    text = SITE
    for number, literal in enumerate(["2.5", '"0.000001"', "10_000", '"12"', "0.1"], 1):
        text += f"[[station]]\nid = 'S{number}'\nmode = 'ship'\nmax_qty = {literal}\n"
    config = load(tmp_path, text)

    assert [s.max_qty for s in config.stations] == [
        Decimal("2.5"),
        Decimal("0.000001"),
        Decimal(10000),
        Decimal(12),
        Decimal("0.1"),
    ]
    assert str(config.stations[4].max_qty) == "0.1"  # not 0.1000000000000000055511151231257827


def test_station_settings(tmp_path: Path) -> None:
    text = SITE + (
        "[[station]]\nid = 'SCRAP-3'\nmode = 'scrap'\ndefault_reason = 'NONE'\n"
        "void_window_s = 30\nscrap_reasons = ['DAMAGED', 'TEST']\n"
    )
    (station,) = load(tmp_path, text).stations

    assert station.default_reason == "NONE"
    assert station.void_window_s == 30.0
    assert station.scrap_reasons == ("DAMAGED", "TEST")


def test_latin1_byte_strings(tmp_path: Path) -> None:
    text = (
        SITE
        + STATIONS
        + SERIAL
        + 'feedback_good = "\\u0006"\nfeedback_bad = "\\u001b[7q\\u00ff"\n'
        + 'prefix = "\\u0002]C1"\nsuffix = "\\r\\n"\n'
    )
    (scanner,) = load(tmp_path, text).scanners

    assert scanner.feedback_good == b"\x06"
    assert scanner.feedback_bad == b"\x1b[7q\xff"
    assert scanner.prefix == b"\x02]C1"
    assert scanner.scan_suffix == b"\r\n"
    assert scanner.suffix == "enter"  # the evdev key is untouched on a serial scanner


def test_serial_scanner_settings(tmp_path: Path) -> None:
    text = (
        SITE
        + STATIONS
        + SERIAL.replace("/dev/ttyACM0", "socket://10.0.0.5:2001")
        + "baudrate = 115200\nbytesize = 7\nparity = 'E'\nstopbits = 1.5\nrtscts = true\n"
        + "terminator = 'stx-etx'\nmax_length = 128\ndebounce_ms = 0\n"
    )
    (scanner,) = load(tmp_path, text).scanners

    assert scanner.url == "socket://10.0.0.5:2001"
    assert (scanner.baudrate, scanner.bytesize, scanner.parity) == (115200, 7, "E")
    assert scanner.stopbits == 1.5
    assert scanner.rtscts is True
    assert scanner.terminator == "stx-etx"
    assert (scanner.max_length, scanner.debounce_ms) == (128, 0)
    assert scanner.idle_ms == 200  # the serial default


def test_serial_idle_ms_can_be_set(tmp_path: Path) -> None:
    (scanner,) = load(tmp_path, SITE + STATIONS + SERIAL + "idle_ms = 40\n").scanners

    assert scanner.idle_ms == 40


def test_evdev_scanner_settings(tmp_path: Path) -> None:
    text = (
        SITE
        + STATIONS
        + "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'evdev'\n"
        + "vendor = 0x0c2e\nproduct = 0x0b61\nserial = 'ABC'\n"
        + "layout = 'de'\nsuffix = 'tab'\ngrab = false\n"
        + "[[scanner]]\nid = 'b'\nstation = 'PACK-1'\nkind = 'evdev'\n"
        + "vendor = 0x0c2e\nproduct = 0x0b61\nserial = 'DEF'\n"
        + "[[scanner]]\nid = 'c'\nstation = 'PACK-1'\nkind = 'evdev'\nphys = 'usb-1/input0'\n"
    )
    first, second, third = load(tmp_path, text).scanners

    assert (first.vendor, first.product, first.serial) == (0x0C2E, 0x0B61, "ABC")
    assert (first.layout, first.suffix, first.grab) == ("de", "tab", False)
    assert first.idle_ms == 50
    assert second.serial == "DEF"
    assert third.phys == "usb-1/input0"


def test_mqtt_settings(tmp_path: Path) -> None:
    text = SITE + (
        "[mqtt]\nhost = 'broker.example'\nprotocol = '3.1.1'\ntopic_prefix = 'acme/edge/p1'\n"
        "client_id = 'edge-7'\nkeepalive = 5\nretention_days = 0.5\nreconnect_max_s = 10\n"
    )
    config = load(tmp_path, text)

    assert config.mqtt.host == "broker.example"
    assert config.mqtt.protocol == "3.1.1"
    assert config.topic_prefix == "acme/edge/p1"
    assert config.client_id == "edge-7"
    assert config.mqtt.retention_days == 0.5
    assert load(tmp_path, SITE + "[mqtt]\nprotocol = '5'\nhost = '::1'\n").mqtt.protocol == "5"


def test_tls_files_turn_tls_on_and_move_the_default_port(tmp_path: Path) -> None:
    config = load(tmp_path, SITE + "[mqtt]\ntls_ca = 'ca.pem'\n")

    assert config.mqtt.tls is True
    assert config.mqtt.port == 8883
    assert config.mqtt.tls_ca == tmp_path / "ca.pem"
    assert load(tmp_path, SITE + "[mqtt]\ntls = true\nport = 1884\n").mqtt.port == 1884


def test_log_level_is_case_insensitive(tmp_path: Path) -> None:
    assert load(tmp_path, "log_level = 'debug'\n" + SITE).log_level == "DEBUG"


# --------------------------------------------------------------------------- paths


def test_relative_database_path_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    write(conf_dir, SITE + "[database]\npath = 'data/edge.db'\n")
    monkeypatch.chdir(tmp_path)

    config = load_config(Path("etc/edge.toml"))

    assert config.database.path == conf_dir / "data" / "edge.db"
    assert config.database.path.is_absolute()
    assert config.source == conf_dir / "edge.toml"


def test_absolute_database_path_is_kept(tmp_path: Path) -> None:
    config = load(tmp_path, SITE + "[database]\npath = '/srv/edge/edge.db'\nmin_free_mb = 0\n")

    assert config.database.path == Path("/srv/edge/edge.db")
    assert config.database.min_free_mb == 0


# --------------------------------------------------------------------------- secrets


def password_config(tmp_path: Path, source: str) -> Config:
    return load(tmp_path, SITE + f"[mqtt]\nusername = 'edge'\n{source}\n")


def test_password_from_file(tmp_path: Path) -> None:
    (tmp_path / "mqtt-password").write_text(SECRET + "\n", encoding="utf-8")
    config = password_config(tmp_path, "password_file = 'mqtt-password'")

    assert config.mqtt.password_file == tmp_path / "mqtt-password"
    assert config.mqtt.read_password() == SECRET


def test_password_file_keeps_inner_whitespace(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(" a b \r\n", encoding="utf-8")
    config = password_config(tmp_path, "password_file = 'pw'")

    assert config.mqtt.read_password() == " a b "


def test_unreadable_password_file(tmp_path: Path) -> None:
    config = password_config(tmp_path, "password_file = 'absent'")

    with pytest.raises(ConfigError, match=r"mqtt\.password_file: cannot read .*absent"):
        config.mqtt.read_password()


def test_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = password_config(tmp_path, "password_env = 'EDGE_TEST_MQTT_PASSWORD'")
    monkeypatch.setenv("EDGE_TEST_MQTT_PASSWORD", SECRET)

    assert config.mqtt.read_password() == SECRET

    monkeypatch.delenv("EDGE_TEST_MQTT_PASSWORD")
    with pytest.raises(ConfigError, match="EDGE_TEST_MQTT_PASSWORD is not set"):
        config.mqtt.read_password()


def test_password_from_systemd_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt-password").write_text(SECRET, encoding="utf-8")
    config = password_config(tmp_path, "password_credential = 'mqtt-password'")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    assert config.mqtt.read_password() == SECRET

    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match=r"\$CREDENTIALS_DIRECTORY is not set"):
        config.mqtt.read_password()


def test_no_password_source() -> None:
    assert MqttConfig().read_password() is None


@pytest.mark.parametrize(
    "source",
    [
        "password_file = 'mqtt-password'",
        "password_env = 'EDGE_TEST_MQTT_PASSWORD'",
        "password_credential = 'mqtt-password'",
    ],
)
def test_secret_is_masked_and_never_in_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    (tmp_path / "mqtt-password").write_text(SECRET, encoding="utf-8")
    monkeypatch.setenv("EDGE_TEST_MQTT_PASSWORD", SECRET)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    config = password_config(tmp_path, source)
    assert config.mqtt.read_password() == SECRET

    shown = format_config(config)

    assert SECRET not in shown
    assert SECRET not in repr(config)
    assert SECRET not in str(config.mqtt)
    assert '# password = "********"' in shown


def test_format_config_without_password_has_no_mask(tmp_path: Path) -> None:
    assert "********" not in format_config(load(tmp_path, SITE))


# --------------------------------------------------------------------------- format_config


def test_format_config_loads_back_to_the_same_settings(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET, encoding="utf-8")
    text = (
        "log_level = 'warning'\n"
        + SITE
        + "[database]\npath = 'edge.db'\n"
        + "[mqtt]\nusername = 'edge'\npassword_file = 'pw'\ntls_ca = 'ca.pem'\n"
        + "tls_cert = 'c.pem'\ntls_key = 'k.pem'\nretention_days = 1.25\n"
        + STATIONS
        + "max_qty = 2.5\nscrap_reasons = ['A', 'B \"quoted\"']\n"
        + EVDEV
        + "suffix = 'none'\n"
        + "[[scanner]]\nid = 'v'\nstation = 'PACK-1'\nkind = 'evdev'\nvendor = 0x0c2e\n"
        + "product = 0x0b61\n"
        + SERIAL
        + 'feedback_good = "\\u0006\\u00e9"\nprefix = "\\\\x\\""\nstopbits = 1.5\n'
    )
    config = load(tmp_path, text)
    shown = format_config(config)
    again = load_config(write(tmp_path, shown, "printed.toml"))

    assert dataclasses.replace(again, source=config.source) == config
    assert "vendor = 0x0c2e" in shown
    assert 'feedback_good = "\\u0006\\u00E9"' in shown
    assert f'path = "{tmp_path / "edge.db"}"' in shown
    assert '# topic_prefix = "backflush/plant-1/pack-edge-01"' in shown


def test_format_config_of_the_example_loads_back() -> None:
    config = load_config(EXAMPLE)
    again = format_config(config)

    assert again.startswith(f"# {EXAMPLE}")
    assert "[[scanner]]" in again


# --------------------------------------------------------------------------- warnings


def test_example_config_warns_only_about_this_machine() -> None:
    for warning in config_warnings(load_config(EXAMPLE)):
        assert "does not exist" in warning


def test_warnings(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text(SECRET, encoding="utf-8")
    password.chmod(0o644)
    device = tmp_path / "event-kbd"
    device.touch()
    text = (
        SITE
        + f"[database]\npath = '{tmp_path}/edge.db'\n"
        + "[mqtt]\nprotocol = '3.1.1'\nusername = 'u'\npassword_file = 'pw'\n"
        + "tls = true\ntls_insecure = true\n"
        + STATIONS.replace('mode = "ship"', 'mode = "ship"\nscrap_reasons = ["A"]').replace(
            'mode = "scrap"', 'mode = "scrap"\nissue_reasons = ["TEST"]'
        )
        + EVDEV.replace("/dev/input/by-id/usb-scanner-event-kbd", str(tmp_path / "absent"))
        + EVDEV.replace("hid-1", "hid-2").replace(
            "/dev/input/by-id/usb-scanner-event-kbd", str(device)
        )
    )
    warnings = config_warnings(load(tmp_path, text))
    source = f"{tmp_path / 'edge.toml'}: "

    assert all(w.startswith(source) for w in warnings)
    keyed = {w.removeprefix(source).split(": ")[0]: w for w in warnings}
    assert set(keyed) == {
        "mqtt.protocol",
        "mqtt.password_file",
        "mqtt.tls_insecure",
        "station[1].scrap_reasons",
        "station[2].issue_reasons",
        "scanner[1].device",
    }
    assert "has no effect at a scrap station" in keyed["station[2].issue_reasons"]
    assert "3.1.1" in keyed["mqtt.protocol"]
    assert "readable by every user" in keyed["mqtt.password_file"]
    assert "does not exist" in keyed["scanner[1].device"]
    assert not any(SECRET in w for w in warnings)

    password.chmod(0o600)
    assert "mqtt.password_file" not in "".join(config_warnings(load(tmp_path, text)))


def test_warning_for_a_missing_password_file_and_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    missing = config_warnings(password_config(tmp_path, "password_file = 'nope'"))
    no_credentials = config_warnings(password_config(tmp_path, "password_credential = 'pw'"))

    assert any("mqtt.password_file" in w and "does not exist" in w for w in missing)
    assert any("$CREDENTIALS_DIRECTORY is not set" in w for w in no_credentials)


def test_warning_for_two_links_to_one_device(tmp_path: Path) -> None:
    device = tmp_path / "ttyACM0"
    device.touch()
    link = tmp_path / "by-id-scanner"
    link.symlink_to(device)
    text = (
        SITE
        + STATIONS
        + SERIAL.replace("/dev/ttyACM0", str(device))
        + SERIAL.replace("serial-1", "serial-2").replace("/dev/ttyACM0", str(link))
    )
    warnings = config_warnings(load(tmp_path, text))

    assert any("scanner[2].url" in w and "same device" in w for w in warnings)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_warning_for_an_unreadable_password_file(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text(SECRET, encoding="utf-8")
    password.chmod(stat.S_IWUSR)
    warnings = config_warnings(password_config(tmp_path, "password_file = 'pw'"))

    assert any("cannot be read by this user" in w for w in warnings)


# --------------------------------------------------------------------------- properties


def load_or_error(path: Path) -> Config | str:
    try:
        return load_config(path)
    except ConfigError as error:
        return str(error)


@given(st.text(max_size=20))
def test_any_site_id_loads_as_one_clean_topic_level_or_is_rejected(site_id: str) -> None:
    escaped = "".join(f"\\U{ord(char):08X}" for char in site_id)
    with tempfile.TemporaryDirectory() as directory:
        result = load_or_error(write(Path(directory), f'[site]\nid = "{escaped}"\nnode = "n"\n'))

    if isinstance(result, str):
        assert "edge.toml: site.id: " in result
        return
    level = result.topic_prefix.split("/")[1]
    assert level == site_id
    assert level
    assert not set(level) & {"+", "#", "/", "\0"}


def keys_by_table() -> dict[str, list[str]]:
    """Every key by table, from format_config of the example (which has a scanner of each
    kind); scanners are "scanner/evdev" and "scanner/serial"."""
    tables: dict[str, list[str]] = {}
    for section in format_config(load_config(EXAMPLE)).split("\n\n"):
        header, *lines = section.splitlines()
        pairs = [line.removeprefix("# ").split(" = ", 1) for line in lines]
        name = header.strip("[]") if header.startswith("[") else "top"
        if name == "scanner":
            name += "/" + dict(pairs)["kind"].strip('"')
        tables.setdefault(name, [key for key, _ in pairs])
    return tables


KEYS = keys_by_table()
BASE_TABLES = {
    "site": {"id": '"plant-1"', "node": '"n"'},
    "database": {},
    "mqtt": {},
    "station": {"id": '"PACK-1"', "mode": '"ship"'},
    "scanner/evdev": {"id": '"a"', "station": '"PACK-1"', "kind": '"evdev"', "name": '"x"'},
    "scanner/serial": {"id": '"b"', "station": '"PACK-1"', "kind": '"serial"', "url": '"/dev/x"'},
}
TOML_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["inf", "-inf", "nan", "1.5", "0.0", "1e3", "1_000.5"]),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=8).map(lambda t: '"' + "".join(f"\\U{ord(c):08X}" for c in t) + '"'),
    st.sampled_from(['"5"', '"3.1.1"', '"ship"', '"/dev/ttyACM0"', '"socket://h:1"', '"1.5"']),
    st.sampled_from(["[]", "[1, 2]", '["A", "B"]', "{ a = 1 }", "1979-05-27T07:32:00Z"]),
)
TABLE_AND_KEY = st.sampled_from(
    [(table, key) for table in BASE_TABLES for key in KEYS[table]] + [("top", "log_level")]
)


@given(TABLE_AND_KEY, TOML_VALUES)
def test_any_value_for_any_key_loads_or_is_rejected_naming_the_key(
    table_key: tuple[str, str], literal: str
) -> None:
    table, key = table_key
    text = f"log_level = {literal}\n" if table == "top" else ""
    for name, base in BASE_TABLES.items():
        values = {**base, key: literal} if name == table else base
        header = (
            f"[{name}]" if name in {"site", "database", "mqtt"} else f"[[{name.split('/')[0]}]]"
        )
        text += header + "\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory), text)
        result = load_or_error(path)

    if isinstance(result, str):
        # Lines naming a key; a changed station id shows up where the scanners refer to it.
        key_path = r"(log_level|site|database|mqtt|station\[1\]|scanner\[[12]\])(\.\w+)?"
        for line in result.splitlines():
            assert re.fullmatch(rf"{re.escape(str(path))}: {key_path}: .+", line)
