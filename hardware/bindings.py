"""What ``edge devices`` prints: every candidate scanner with a ready [[scanner]] table.

A device that has an identical twin (see :mod:`hardware.devices`) is bound by
the USB port it is plugged into, and the table says to keep it there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hardware.devices import (
    BUS_NAMES,
    DeviceReport,
    InputDeviceInfo,
    SerialPortInfo,
    identical_inputs,
    identical_serial_ports,
    preferred_link,
)

__all__ = ["format_devices", "input_binding", "serial_binding"]


def input_binding(device: InputDeviceInfo, *, identical: bool, scanner_id: str) -> str:
    """The ``[[scanner]]`` TOML lines that bind ``device``, choosing the steadiest key.

    A unique by-id link names the scanner wherever it is plugged in; identical scanners are
    bound by port (by-path, else phys); without udev links, by vendor+product (+ serial).
    """
    lines = [
        "[[scanner]]",
        f"id = {_toml(scanner_id)}",
        'station = "SET-ME"  # the id of a [[station]]',
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


def serial_binding(port: SerialPortInfo, *, identical: bool, scanner_id: str) -> str:
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
            'station = "SET-ME"  # the id of a [[station]]',
            'kind = "serial"',
            f"url = {_toml(url)}{note}",
            "# baudrate = 9600  # as set in the scanner (USB CDC-ACM ignores it)",
        ]
    )


# --- report ----------------------------------------------------------------------------------


def format_devices(report: DeviceReport) -> str:
    """The text ``edge devices`` prints: each candidate, its problems, and its config lines."""
    out: list[str] = []
    used_ids: set[str] = set()
    twins = identical_inputs(report.inputs)
    out.append("Input devices with letter and digit keys (USB HID scanners, keyboards):")
    if not report.inputs:
        out.append("  none found")
    for device in report.inputs:
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
        others = twins.get(device.devnode)
        if others:
            out.append(
                f"    IDENTICAL to {', '.join(others)}: same vendor:product and no serial "
                "number, so they share one by-id link; bind each by its USB port (by-path or "
                "phys) as below"
            )
        scanner_id = _unique_id(_slug(device.name) or "scanner", used_ids)
        binding = input_binding(device, identical=bool(others), scanner_id=scanner_id)
        out.extend(_indent(binding, "    "))

    serial_twins = identical_serial_ports(report.serial_ports)
    out.append("")
    out.append("Serial ports (nothing is written to them):")
    if not report.serial_ports:
        out.append("  none found")
    for port in report.serial_ports:
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
        others = serial_twins.get(port.device)
        if others:
            out.append(
                f"    IDENTICAL to {', '.join(others)}: same vendor:product and no serial "
                "number; bind each by its USB port (by-path) as below"
            )
        named = port.description not in ("", "n/a")  # pyserial's word for "no description"
        base = _slug(port.description) if named else _slug(Path(port.device).name)
        scanner_id = _unique_id(base or "serial-scanner", used_ids)
        binding = serial_binding(port, identical=bool(others), scanner_id=scanner_id)
        out.extend(_indent(binding, "    "))
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
