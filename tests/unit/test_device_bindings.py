"""`edge devices` proposals: the configured stations, a missing /dev/input, the JSON report."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from hardware.bindings import NO_INPUT_DIR, devices_json, format_devices, station_line
from hardware.devices import DeviceReport, discover
from tests.unit.test_devices import scanner, serial_port, toml_blocks

REPORT = DeviceReport(
    inputs=(
        scanner("/dev/input/event5", "2"),
        scanner("/dev/input/event7", "3"),
        scanner("/dev/input/event9", "4", name="Datalogic QD2430", serial="D1", vendor=0x05F9),
    ),
    serial_ports=(serial_port("/dev/ttyACM0", "1-5:1.0", serial="Z9"),),
)


@pytest.mark.parametrize(
    ("stations", "line"),
    [
        ((), 'station = "SET-ME"  # the id of a [[station]]'),
        (("PACK-1",), 'station = "PACK-1"'),
        (("PACK-1", "SCRAP-3", "BUILD-1"), 'station = "PACK-1"  # or SCRAP-3, BUILD-1'),
    ],
)
def test_the_station_line_proposes_the_configured_stations(stations, line):
    assert station_line(stations) == line


def test_every_proposed_table_names_the_first_station_and_is_valid_toml():
    text = format_devices(REPORT, ["PACK-1", "SCRAP-3"])
    blocks = toml_blocks(text)
    assert len(blocks) == 4
    assert {block["station"] for block in blocks} == {"PACK-1"}
    assert "SET-ME" not in text
    assert text.count("# or SCRAP-3") == 4


def test_json_report_carries_every_device_its_twins_and_its_table():
    document = json.loads(json.dumps(devices_json(REPORT, ["PACK-1"])))
    assert document["input_devices_dir"] is True
    inputs, ports = document["inputs"], document["serial_ports"]
    assert [entry["devnode"] for entry in inputs] == [d.devnode for d in REPORT.inputs]
    assert inputs[0]["identical_to"] == ["/dev/input/event7"]
    assert inputs[2]["identical_to"] == []
    assert inputs[0]["bus"] == "usb"
    assert inputs[2]["serial"] == "D1"
    assert ports[0]["device"] == "/dev/ttyACM0"
    # The same tables as the text report, ids unique across both lists.
    assert [tomllib.loads(entry["binding"])["scanner"][0] for entry in inputs + ports] == (
        toml_blocks(format_devices(REPORT, ["PACK-1"]))
    )


def test_a_machine_without_dev_input_says_so_instead_of_none_found(tmp_path: Path):
    (tmp_path / "dev").mkdir()
    report = discover(tmp_path / "sys", tmp_path / "dev")
    assert report.has_input_devices_dir is False
    text = format_devices(report)
    assert f"  {NO_INPUT_DIR}\n" in text
    assert text.count("none found") == (1 if not report.serial_ports else 0)
    assert devices_json(report)["input_devices_dir"] is False


def test_an_empty_dev_input_is_none_found(tmp_path: Path):
    (tmp_path / "dev" / "input").mkdir(parents=True)
    report = discover(tmp_path / "sys", tmp_path / "dev")
    assert report.has_input_devices_dir is True
    assert report.inputs == ()
    text = format_devices(report)
    assert NO_INPUT_DIR not in text
    assert text.startswith(
        "Input devices with letter and digit keys (USB HID scanners, keyboards):\n  none found\n"
    )
