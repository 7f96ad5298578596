"""What ``edge devices`` prints: every candidate scanner with a ready [[scanner]] table.

A device that has an identical twin (see :mod:`hardware.devices`) is bound by
the USB port it is plugged into, and the table says to keep it there. The
station a table names is the first of the ``stations`` the caller passes in
(those of the config, when it loads; this package knows nothing of edge's
config), the others listed beside it; with none, a placeholder to replace.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from hardware.devices import (
    BUS_NAMES,
    DeviceReport,
    InputDeviceInfo,
    SerialPortInfo,
    identical_inputs,
    identical_serial_ports,
    preferred_link,
)

__all__ = ["devices_json", "format_devices", "input_binding", "serial_binding"]

NO_INPUT_DIR = "no /dev/input here: no keyboard-wedge scanners can be attached (a container?)"


def station_line(stations: Sequence[str]) -> str:
    """The ``station = ...`` line of a proposed table."""
    if not stations:
        return 'station = "SET-ME"  # the id of a [[station]]'
    others = f"  # or {', '.join(stations[1:])}" if len(stations) > 1 else ""
    return f"station = {_toml(stations[0])}{others}"


def input_binding(
    device: InputDeviceInfo, *, identical: bool, scanner_id: str, stations: Sequence[str] = ()
) -> str:
    """The ``[[scanner]]`` TOML lines that bind ``device``, choosing the steadiest key.

    A unique by-id link names the scanner wherever it is plugged in; identical scanners are
    bound by port (by-path, else phys); without udev links, by vendor+product (+ serial).
    """
    lines = [
        "[[scanner]]",
        f"id = {_toml(scanner_id)}",
        station_line(stations),
        'kind = "evdev"',
    ]
    by_id = preferred_link(device.by_id)
    by_path = preferred_link(device.by_path)
    if identical and by_path:
        lines.append(f"device = {_toml(by_path)}  # bound by USB port: keep it on this port")
    elif identical and device.phys:
        lines.append(f"phys = {_toml(device.phys)}  # bound by USB port: keep it on this port")
    elif by_id and not identical:
        lines.append(f"device = {_toml(by_id)}")
    elif device.vendor or device.product:
        lines.append(f"vendor = 0x{device.vendor:04x}")
        lines.append(f"product = 0x{device.product:04x}")
        if device.serial:
            lines.append(f"serial = {_toml(device.serial)}")
    elif device.phys:
        lines.append(f"phys = {_toml(device.phys)}")
    else:
        lines.append(f"name = {_toml(device.name)}")
    lines.append('# layout = "us"  # the keyboard layout the scanner is set to send')
    return "\n".join(lines)


def serial_binding(
    port: SerialPortInfo, *, identical: bool, scanner_id: str, stations: Sequence[str] = ()
) -> str:
    """The ``[[scanner]]`` TOML lines that bind a serial port (by-id, or by-path for twins)."""
    by_id = preferred_link(port.by_id)
    by_path = preferred_link(port.by_path)
    if identical and by_path:
        url = by_path
        note = "  # bound by USB port: keep it on this port"
    else:
        url = by_id or port.device
        note = ""
    return "\n".join(
        [
            "[[scanner]]",
            f"id = {_toml(scanner_id)}",
            station_line(stations),
            'kind = "serial"',
            f"url = {_toml(url)}{note}",
            "# baudrate = 9600  # as set in the scanner (USB CDC-ACM ignores it)",
        ]
    )


# --- report ----------------------------------------------------------------------------------


Device = TypeVar("Device", InputDeviceInfo, SerialPortInfo)


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate(Generic[Device]):
    """A device that could be a scanner, its identical twins and the table that binds it."""

    device: Device
    identical_to: tuple[str, ...]
    binding: str


def candidates(
    report: DeviceReport, stations: Sequence[str] = ()
) -> tuple[list[Candidate[InputDeviceInfo]], list[Candidate[SerialPortInfo]]]:
    """The input devices and the serial ports, each with its proposed [[scanner]] table.

    Scanner ids are unique across both lists, in the order the report lists the devices.
    """
    used_ids: set[str] = set()
    twins = identical_inputs(report.inputs)
    inputs = []
    for device in report.inputs:
        others = twins.get(device.devnode, ())
        scanner_id = _unique_id(_slug(device.name) or "scanner", used_ids)
        binding = input_binding(
            device, identical=bool(others), scanner_id=scanner_id, stations=stations
        )
        inputs.append(Candidate(device, others, binding))
    serial_twins = identical_serial_ports(report.serial_ports)
    ports = []
    for port in report.serial_ports:
        others = serial_twins.get(port.device, ())
        named = port.description not in ("", "n/a")  # pyserial's word for "no description"
        base = _slug(port.description) if named else _slug(Path(port.device).name)
        scanner_id = _unique_id(base or "serial-scanner", used_ids)
        binding = serial_binding(
            port, identical=bool(others), scanner_id=scanner_id, stations=stations
        )
        ports.append(Candidate(port, others, binding))
    return inputs, ports


def devices_json(report: DeviceReport, stations: Sequence[str] = ()) -> dict[str, Any]:
    """What ``edge devices --json`` prints: the same report, as one JSON object."""
    inputs, ports = candidates(report, stations)

    def entry(candidate: Candidate[Any]) -> dict[str, Any]:
        fields = dataclasses.asdict(candidate.device)
        if isinstance(candidate.device, InputDeviceInfo):
            fields["bus"] = BUS_NAMES.get(candidate.device.bustype)
        return {
            **fields,
            "identical_to": list(candidate.identical_to),
            "binding": candidate.binding,
        }

    return {
        "input_devices_dir": report.has_input_devices_dir,
        "inputs": [entry(candidate) for candidate in inputs],
        "serial_ports": [entry(candidate) for candidate in ports],
    }


def format_devices(report: DeviceReport, stations: Sequence[str] = ()) -> str:
    """The text ``edge devices`` prints: each candidate, its problems, and its config lines."""
    out: list[str] = []
    inputs, ports = candidates(report, stations)
    out.append("Input devices with letter and digit keys (USB HID scanners, keyboards):")
    if not report.has_input_devices_dir:
        out.append(f"  {NO_INPUT_DIR}")
    elif not inputs:
        out.append("  none found")
    for candidate in inputs:
        device = candidate.device
        out.append("")
        out.append(f"  {device.devnode}  {device.name}")
        out.append(
            f"    bus {BUS_NAMES.get(device.bustype, hex(device.bustype))}, "
            f"vendor:product {device.vendor:04x}:{device.product:04x}, "
            f"serial {device.serial or '(none)'}"
        )
        out.extend(f"    by-id   {link}" for link in device.by_id)
        out.extend(f"    by-path {link}" for link in device.by_path)
        if device.phys:
            out.append(f"    phys    {device.phys}")
        out.append(
            "    readable by this user"
            if device.readable
            else "    NOT readable by this user: add it to the group that owns the node "
            "(usually 'input') or install the udev rules `edge init` points to"
        )
        if candidate.identical_to:
            out.append(
                f"    IDENTICAL to {', '.join(candidate.identical_to)}: same vendor:product "
                "and no serial number, so they share one by-id link; bind each by its USB "
                "port (by-path or phys) as below"
            )
        out.extend(_indent(candidate.binding, "    "))

    out.append("")
    out.append("Serial ports (nothing is written to them):")
    if not ports:
        out.append("  none found")
    for serial_candidate in ports:
        port = serial_candidate.device
        out.append("")
        ids = (
            f"vendor:product {port.vendor:04x}:{port.product:04x}, "
            if port.vendor is not None and port.product is not None
            else ""
        )
        out.append(f"  {port.device}  {port.description}")
        out.append(f"    {ids}serial {port.serial or '(none)'}")
        out.extend(f"    by-id   {link}" for link in port.by_id)
        out.extend(f"    by-path {link}" for link in port.by_path)
        if port.location:
            out.append(f"    location {port.location}")
        out.append(
            "    readable and writable by this user"
            if port.readable
            else "    NOT readable and writable by this user: add it to the group that owns "
            "the port (usually 'dialout')"
        )
        if serial_candidate.identical_to:
            out.append(
                f"    IDENTICAL to {', '.join(serial_candidate.identical_to)}: same vendor:product "
                "and no serial number; bind each by its USB port (by-path) as below"
            )
        out.extend(_indent(serial_candidate.binding, "    "))
    return "\n".join(out) + "\n"


# --- helpers ---------------------------------------------------------------------------------


def _toml(text: str) -> str:
    # A JSON string is a valid TOML basic string (same quotes and escapes).
    return json.dumps(text, ensure_ascii=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


def _unique_id(base: str, used: set[str]) -> str:
    number = 1
    while f"{base}-{number}" in used:
        number += 1
    used.add(f"{base}-{number}")
    return f"{base}-{number}"


def _indent(block: str, prefix: str) -> list[str]:
    return [prefix + line for line in block.splitlines()]
