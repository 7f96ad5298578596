"""Discovery for `edge devices`, from built device records and a built sysfs tree."""

from __future__ import annotations

import itertools
import os
import tomllib
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config
from edge.scanpath.readers import build_reader
from hardware.bindings import format_devices, input_binding, serial_binding
from hardware.devices import (
    DeviceReport,
    InputDeviceInfo,
    SerialPortInfo,
    identical_inputs,
    identical_serial_ports,
    list_input_devices,
)
from hardware.evdev.device import LinuxInputSource
from hardware.evdev.match import MATCH_RULES, DeviceMatch

HONEYWELL = 0x0C2E, 0x0B61


def scanner(devnode: str, port: str, **fields) -> InputDeviceInfo:
    values = {
        "devnode": devnode,
        "name": "Honeywell Imaging & Mobility 1900",
        "bustype": 0x03,
        "vendor": HONEYWELL[0],
        "product": HONEYWELL[1],
        "serial": "",
        "phys": f"usb-0000:00:14.0-{port}/input0",
        "by_id": ("/dev/input/by-id/usb-Honeywell_Imaging___Mobility_1900-event-kbd",),
        "by_path": (f"/dev/input/by-path/pci-0000:00:14.0-usb-0:{port}:1.0-event-kbd",),
        "readable": True,
        "has_text_keys": True,
    }
    values.update(fields)
    return InputDeviceInfo(**values)


def serial_port(device: str, location: str, **fields) -> SerialPortInfo:
    values = {
        "device": device,
        "description": "Zebra DS2208 - CDC ACM",
        "vendor": 0x05E0,
        "product": 0x1701,
        "serial": "",
        "location": location,
        "by_id": ("/dev/serial/by-id/usb-Zebra_DS2208-if00",),
        "by_path": (f"/dev/serial/by-path/pci-0000:00:14.0-usb-0:{location}-port0",),
        "readable": True,
    }
    values.update(fields)
    return SerialPortInfo(**values)


def toml_blocks(text: str) -> list[dict]:
    """Every [[scanner]] block the report prints, parsed as TOML."""
    blocks, current = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "[[scanner]]":
            current = [stripped]
            blocks.append(current)
        elif current is not None and line.startswith("    ") and stripped:
            current.append(stripped)
        else:
            current = None
    return [tomllib.loads("\n".join(block))["scanner"][0] for block in blocks]


# --- identical scanners ----------------------------------------------------------------------


def test_identical_scanners_without_serial_on_different_ports_are_flagged():
    a, b = scanner("/dev/input/event5", "2"), scanner("/dev/input/event7", "3")
    other = scanner("/dev/input/event9", "4", product=0x0B62)
    twins = identical_inputs([a, b, other])
    assert twins == {a.devnode: (b.devnode,), b.devnode: (a.devnode,)}


def test_two_nodes_of_one_device_or_scanners_with_serials_are_not_twins():
    keyboard = scanner("/dev/input/event5", "2")
    second_interface = scanner(
        "/dev/input/event6", "2", phys="usb-0000:00:14.0-2/input1", by_id=(), by_path=()
    )
    with_serials = [
        scanner("/dev/input/event7", "3", serial="18245B0411"),
        scanner("/dev/input/event8", "4", serial="18245B0412"),
    ]
    assert identical_inputs([keyboard, second_interface, *with_serials]) == {}


def test_identical_serial_ports_are_flagged():
    a = serial_port("/dev/ttyACM0", "1-2:1.0")
    b = serial_port("/dev/ttyACM1", "1-3:1.0")
    c = serial_port("/dev/ttyACM2", "1-4:1.0", serial="S123")
    assert identical_serial_ports([a, b, c]) == {a.device: (b.device,), b.device: (a.device,)}


# --- bindings --------------------------------------------------------------------------------


def test_unique_scanner_is_bound_by_its_by_id_link():
    device = scanner("/dev/input/event5", "2")
    config = tomllib.loads(input_binding(device, identical=False, scanner_id="hw-1"))["scanner"]
    assert config == [
        {
            "id": "hw-1",
            "station": "SET-ME",
            "kind": "evdev",
            "device": "/dev/input/by-id/usb-Honeywell_Imaging___Mobility_1900-event-kbd",
        }
    ]


def test_identical_scanner_is_bound_by_port():
    device = scanner("/dev/input/event5", "2")
    (config,) = tomllib.loads(input_binding(device, identical=True, scanner_id="a"))["scanner"]
    assert config["device"] == "/dev/input/by-path/pci-0000:00:14.0-usb-0:2:1.0-event-kbd"
    no_links = scanner("/dev/input/event5", "2", by_path=())
    (config,) = tomllib.loads(input_binding(no_links, identical=True, scanner_id="a"))["scanner"]
    assert config["phys"] == "usb-0000:00:14.0-2/input0"
    assert "device" not in config


def test_without_udev_links_a_scanner_is_bound_by_usb_ids_and_serial():
    device = scanner("/dev/input/event5", "2", by_id=(), by_path=(), serial='S"1\\')
    (config,) = tomllib.loads(input_binding(device, identical=False, scanner_id="a"))["scanner"]
    assert (config["vendor"], config["product"], config["serial"]) == (*HONEYWELL, 'S"1\\')
    # The lines bind exactly this device when the reader matches them.
    match = DeviceMatch(vendor=config["vendor"], product=config["product"], serial=config["serial"])
    assert match.matches(device)


def test_serial_binding_prefers_by_id_and_uses_by_path_for_twins():
    port = serial_port("/dev/ttyACM0", "1-2:1.0")
    (plain,) = tomllib.loads(serial_binding(port, identical=False, scanner_id="z"))["scanner"]
    assert plain == {
        "id": "z",
        "station": "SET-ME",
        "kind": "serial",
        "url": "/dev/serial/by-id/usb-Zebra_DS2208-if00",
    }
    (twin,) = tomllib.loads(serial_binding(port, identical=True, scanner_id="z"))["scanner"]
    assert twin["url"] == "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1-2:1.0-port0"
    bare = serial_port("/dev/ttyS0", "", by_id=(), by_path=(), vendor=None, product=None)
    (config,) = tomllib.loads(serial_binding(bare, identical=False, scanner_id="s"))["scanner"]
    assert config["url"] == "/dev/ttyS0"


# --- the report ------------------------------------------------------------------------------


def test_report_lists_flags_and_binds_every_device():
    report = DeviceReport(
        inputs=(
            scanner("/dev/input/event5", "2"),
            scanner("/dev/input/event7", "3", readable=False),
            scanner("/dev/input/event9", "4", name="Datalogic QD2430", serial="D1", vendor=0x05F9),
        ),
        serial_ports=(
            serial_port("/dev/ttyACM0", "1-5:1.0", serial="Z9"),
            serial_port("/dev/ttyS0", "", description="n/a", vendor=None, product=None),
        ),
    )
    text = format_devices(report)
    assert "IDENTICAL to /dev/input/event7" in text
    assert "IDENTICAL to /dev/input/event5" in text
    assert "NOT readable by this user" in text
    assert "'input'" in text
    assert "0c2e:0b61" in text
    assert "serial D1" in text
    blocks = toml_blocks(text)
    assert [b["id"] for b in blocks] == [
        "honeywell-imaging-mobility-1900-1",
        "honeywell-imaging-mobility-1900-2",
        "datalogic-qd2430-1",
        "zebra-ds2208-cdc-acm-1",
        "ttys0-1",
    ]
    assert blocks[0]["device"].startswith("/dev/input/by-path/")
    assert blocks[1]["device"].startswith("/dev/input/by-path/")
    assert blocks[2]["device"].startswith("/dev/input/by-id/")
    assert [b["kind"] for b in blocks] == ["evdev"] * 3 + ["serial"] * 2
    assert blocks[3]["url"] == "/dev/serial/by-id/usb-Zebra_DS2208-if00"


def test_empty_report_says_so():
    text = format_devices(DeviceReport(inputs=(), serial_ports=()))
    assert text.count("none found") == 2


# --- sysfs -----------------------------------------------------------------------------------


def bitmap(codes: list[int], long_bits: int) -> str:
    """A capability bitmap as the kernel prints it: words most significant first."""
    value = sum(1 << code for code in codes)
    words = []
    while value:
        words.append(value & ((1 << long_bits) - 1))
        value >>= long_bits
    return " ".join(f"{word:x}" for word in reversed(words)) or "0"


KEYBOARD_KEYS = list(range(1, 89))  # Esc .. F12 on a PC keyboard


class SysfsTree:
    """A small /sys and /dev as the kernel and udev lay them out, for discovery tests."""

    def __init__(self, root: Path, long_bits: int = 64) -> None:
        self.sys = root / "sys"
        self.dev = root / "dev"
        self.long_bits = long_bits
        (self.sys / "class" / "input").mkdir(parents=True)
        (self.dev / "input" / "by-id").mkdir(parents=True)
        (self.dev / "input" / "by-path").mkdir(parents=True)

    def add(
        self,
        number: int,
        name: str,
        *,
        port: str,
        keys: list[int],
        usb_serial: str | None = None,
        by_id: str | None = None,
        by_path: str | None = None,
        readable: bool = True,
    ) -> None:
        usb = self.sys / "devices" / "pci0000:00" / "0000:00:14.0" / "usb1" / f"1-{port}"
        usb.mkdir(parents=True, exist_ok=True)
        (usb / "idVendor").write_text("0c2e\n")
        (usb / "idProduct").write_text("0b61\n")
        if usb_serial is not None:
            (usb / "serial").write_text(usb_serial + "\n")
        input_dir = usb / f"1-{port}:1.0" / "0003:0C2E:0B61.0001" / "input" / f"input{number}"
        event_dir = input_dir / f"event{number}"
        (input_dir / "id").mkdir(parents=True)
        (input_dir / "capabilities").mkdir()
        event_dir.mkdir()
        (input_dir / "name").write_text(name + "\n")
        (input_dir / "phys").write_text(f"usb-0000:00:14.0-{port}/input0\n")
        (input_dir / "uniq").write_text("\n")
        (input_dir / "id" / "bustype").write_text("0003\n")
        (input_dir / "id" / "vendor").write_text("0c2e\n")
        (input_dir / "id" / "product").write_text("0b61\n")
        (input_dir / "capabilities" / "ev").write_text("120013\n" if keys else "17\n")
        (input_dir / "capabilities" / "key").write_text(bitmap(keys, self.long_bits) + "\n")
        (event_dir / "device").symlink_to("..")
        (self.sys / "class" / "input" / f"event{number}").symlink_to(
            os.path.relpath(event_dir, self.sys / "class" / "input")
        )
        node = self.dev / "input" / f"event{number}"
        node.write_text("")
        node.chmod(0o600 if readable else 0o000)
        if by_id:
            (self.dev / "input" / "by-id" / by_id).symlink_to(f"../event{number}")
        if by_path:
            (self.dev / "input" / "by-path" / by_path).symlink_to(f"../event{number}")


@pytest.mark.parametrize("long_bits", [64, 32])
def test_input_devices_are_read_from_sysfs_and_udev_links(tmp_path, long_bits):
    tree = SysfsTree(tmp_path, long_bits)
    tree.add(
        5,
        "Honeywell 1900",
        port="2",
        keys=KEYBOARD_KEYS,
        usb_serial="18245B0411",
        by_id="usb-Honeywell_1900_18245B0411-event-kbd",
        by_path="pci-0000:00:14.0-usb-0:2:1.0-event-kbd",
    )
    tree.add(12, "Honeywell 1900 Consumer Control", port="3", keys=[113, 114, 115])
    tree.add(3, "No digits", port="4", keys=[k for k in KEYBOARD_KEYS if k not in range(2, 12)])

    devices = list_input_devices(tree.sys, tree.dev, long_bits=long_bits)
    assert [d.devnode for d in devices] == [
        str(tree.dev / "input" / "event3"),
        str(tree.dev / "input" / "event5"),
        str(tree.dev / "input" / "event12"),
    ]
    no_digits, honeywell, consumer = devices
    assert honeywell == InputDeviceInfo(
        devnode=str(tree.dev / "input" / "event5"),
        name="Honeywell 1900",
        bustype=3,
        vendor=0x0C2E,
        product=0x0B61,
        serial="18245B0411",
        phys="usb-0000:00:14.0-2/input0",
        by_id=(str(tree.dev / "input" / "by-id" / "usb-Honeywell_1900_18245B0411-event-kbd"),),
        by_path=(str(tree.dev / "input" / "by-path" / "pci-0000:00:14.0-usb-0:2:1.0-event-kbd"),),
        readable=True,
        has_text_keys=True,
    )
    assert not consumer.has_text_keys
    assert not no_digits.has_text_keys
    assert consumer.serial == ""


def test_reader_source_matches_by_link_name_and_phys(tmp_path):
    tree = SysfsTree(tmp_path)
    tree.add(5, "Honeywell 1900", port="2", keys=KEYBOARD_KEYS, by_path="pci-usb-0:2:1.0-kbd")
    tree.add(6, "Honeywell 1900", port="3", keys=KEYBOARD_KEYS, by_path="pci-usb-0:3:1.0-kbd")
    devices = LinuxInputSource(tree.sys, tree.dev).devices()

    def matched(match: DeviceMatch) -> list[str]:
        return [Path(d.devnode).name for d in devices if match.matches(d)]

    assert matched(DeviceMatch(device=str(tree.dev / "input/by-path/pci-usb-0:3:1.0-kbd"))) == [
        "event6"
    ]
    assert matched(DeviceMatch(device=str(tree.dev / "input/event5"))) == ["event5"]
    assert matched(DeviceMatch(name="Honeywell 1900")) == ["event5", "event6"]
    assert matched(DeviceMatch(vendor=0x0C2E, product=0x0B61)) == ["event5", "event6"]
    assert matched(DeviceMatch(phys="usb-0000:00:14.0-2/input0")) == ["event5"]
    assert matched(DeviceMatch(phys="usb-0000:00:14.0-3/input0")) == ["event6"]
    assert matched(DeviceMatch(device=str(tree.dev / "input/by-id/absent"))) == []


def test_missing_sysfs_lists_nothing(tmp_path):
    assert list_input_devices(tmp_path / "nosys", tmp_path / "nodev") == []


# --- one match rule, in the config file and in the reader ------------------------------------

# Each rule's fields, as a [[scanner]] table gives them and as DeviceMatch takes them.
RULE_FIELDS = {
    "device": {"device": "/dev/input/by-id/usb-Honeywell_1900-event-kbd"},
    "name": {"name": "Honeywell 1900"},
    "vendor+product": {"vendor": HONEYWELL[0], "product": HONEYWELL[1], "serial": "S1"},
    "phys": {"phys": "usb-0000:00:14.0-2/input0"},
}
RULE_SETS = [
    rules for n in range(len(RULE_FIELDS) + 1) for rules in itertools.combinations(RULE_FIELDS, n)
]


def test_the_rules_are_the_readers_rules():
    assert tuple(RULE_FIELDS) == MATCH_RULES


@pytest.mark.parametrize(
    "rules", [rules for rules in RULE_SETS if len(rules) > 1], ids=" and ".join
)
def test_device_match_refuses_more_than_one_rule(rules):
    fields = {key: value for rule in rules for key, value in RULE_FIELDS[rule].items()}

    with pytest.raises(ValueError, match=r"given together; match by one of device, name, "):
        DeviceMatch(**fields)


@pytest.mark.parametrize("rules", RULE_SETS, ids=lambda rules: " and ".join(rules) or "none")
def test_config_and_device_match_accept_the_same_rules(tmp_path, rules):
    """A [[scanner]] table loads exactly when DeviceMatch takes its keys, and the reader built
    from it matches by them."""
    fields = {key: value for rule in rules for key, value in RULE_FIELDS[rule].items()}
    path = tmp_path / "edge.toml"
    path.write_text(
        "[site]\nid = 'plant-1'\nnode = 'n'\n"
        "[[station]]\nid = 'PACK-1'\nmode = 'ship'\n"
        "[[scanner]]\nid = 'a'\nstation = 'PACK-1'\nkind = 'evdev'\n"
        + "".join(f"{key} = {value!r}\n" for key, value in fields.items()),
        encoding="utf-8",
    )
    try:
        (config,) = load_config(path).scanners
    except ConfigError:
        with pytest.raises(ValueError, match="one of device, name, vendor\\+product or phys"):
            DeviceMatch(**fields)
        return

    reader = build_reader(config, on_read=lambda *read: None, on_state=lambda *state: None)

    assert len(rules) == 1
    assert reader.match == DeviceMatch(**fields)
