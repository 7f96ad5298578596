"""Discovery for ``edge devices``: input devices and serial ports that could be scanners.

Everything here is read from sysfs and from the udev links under ``/dev``; no device is opened,
so discovery works for a user who cannot read the devices yet (and says so), and no byte is
ever written to a serial port that is not configured (a probe could trigger a PLC or a label
printer on the same bus).

Identical scanners matter on a packing line, where one model is bought by the dozen: two USB
scanners of the same vendor:product without a serial number get the same
``/dev/input/by-id/...`` link name, udev points it at whichever appeared last, and a binding
by that link would swap stations on a replug. Such devices are flagged and bound by the USB
port they are plugged into instead (``/dev/input/by-path/...``, or the kernel's ``phys``).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BUS_NAMES",
    "DeviceReport",
    "InputDeviceInfo",
    "SerialPortInfo",
    "discover",
    "identical_inputs",
    "identical_serial_ports",
    "list_input_devices",
    "list_serial_ports",
    "preferred_link",
]

# Linux input bus types (linux/input.h) that scanners arrive on.
BUS_NAMES = {0x03: "usb", 0x05: "bluetooth", 0x06: "virtual", 0x11: "i8042", 0x19: "host"}

_EV_KEY = 1
# Keys a device must have to type a barcode: the digits and the letters (linux/input.h codes).
_DIGIT_KEYS = range(2, 12)  # KEY_1 .. KEY_0
_LETTER_KEYS = (*range(16, 26), *range(30, 39), *range(44, 51))  # KEY_Q..P, A..L, Z..M


@dataclass(frozen=True, slots=True)
class InputDeviceInfo:
    """One evdev node, as sysfs and the udev links describe it."""

    devnode: str  # /dev/input/eventN
    name: str
    bustype: int
    vendor: int
    product: int
    serial: str  # the USB serial number, else the kernel's uniq; "" when the device has none
    phys: str  # the kernel's physical path, e.g. usb-0000:00:14.0-2/input0
    by_id: tuple[str, ...]
    by_path: tuple[str, ...]
    readable: bool  # this user may open it
    has_text_keys: bool  # has EV_KEY with every digit and letter: could be a scanner

    @property
    def usb_port(self) -> str:
        """The phys up to the interface: two nodes of one physical device share it."""
        return self.phys.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class SerialPortInfo:
    """One serial port as pyserial's port listing and the udev links describe it."""

    device: str  # /dev/ttyACM0
    description: str
    vendor: int | None
    product: int | None
    serial: str
    location: str  # the USB port path pyserial reports, e.g. 1-2:1.0
    by_id: tuple[str, ...]
    by_path: tuple[str, ...]
    readable: bool  # this user may open it for reading and writing (feedback needs both)


@dataclass(frozen=True, slots=True)
class DeviceReport:
    inputs: tuple[InputDeviceInfo, ...]
    serial_ports: tuple[SerialPortInfo, ...]
    # False when the machine has no /dev/input at all (a container without the
    # host's devices): then no wedge scanner can appear, rather than none is plugged in.
    has_input_devices_dir: bool = True


# --- input devices ---------------------------------------------------------------------------


def list_input_devices(
    sys_root: Path = Path("/sys"),
    dev_root: Path = Path("/dev"),
    *,
    long_bits: int | None = None,
) -> list[InputDeviceInfo]:
    """Every evdev node (``eventN``) the kernel has, sorted by node number.

    ``long_bits`` is the kernel's word size, which the capability bitmaps in sysfs are
    written in; by default it is taken from the running kernel.
    """
    bits = long_bits if long_bits is not None else _kernel_long_bits()
    links = _links(dev_root / "input" / "by-id"), _links(dev_root / "input" / "by-path")
    devices = []
    class_dir = sys_root / "class" / "input"
    try:
        entries = sorted(class_dir.glob("event*"), key=_node_number)
    except OSError:
        return []
    for entry in entries:
        info = _read_input_device(entry, dev_root, bits, links)
        if info is not None:
            devices.append(info)
    return devices


def _read_input_device(
    entry: Path,
    dev_root: Path,
    long_bits: int,
    links: tuple[dict[str, list[str]], dict[str, list[str]]],
) -> InputDeviceInfo | None:
    device_dir = entry / "device"
    name = _read(device_dir / "name")
    if name is None:
        return None  # gone while we looked
    devnode = str(dev_root / "input" / entry.name)
    real = os.path.realpath(devnode)
    ev_bits = _parse_bitmap(_read(device_dir / "capabilities" / "ev") or "", long_bits)
    key_bits = _parse_bitmap(_read(device_dir / "capabilities" / "key") or "", long_bits)
    has_keys = bool(ev_bits >> _EV_KEY & 1) and all(
        key_bits >> code & 1 for code in (*_DIGIT_KEYS, *_LETTER_KEYS)
    )
    return InputDeviceInfo(
        devnode=devnode,
        name=name,
        bustype=_read_hex(device_dir / "id" / "bustype"),
        vendor=_read_hex(device_dir / "id" / "vendor"),
        product=_read_hex(device_dir / "id" / "product"),
        serial=_usb_serial(device_dir) or _read(device_dir / "uniq") or "",
        phys=_read(device_dir / "phys") or "",
        by_id=tuple(links[0].get(real, ())),
        by_path=tuple(links[1].get(real, ())),
        readable=os.access(devnode, os.R_OK),
        has_text_keys=has_keys,
    )


def _usb_serial(device_dir: Path) -> str | None:
    """The serial number of the USB device an input device belongs to, if it has one."""
    try:
        current = device_dir.resolve()
    except OSError:
        return None
    # Walk up from the input device to the USB device (the directory with idVendor).
    for directory in (current, *current.parents):
        if directory.name == "devices" or directory == directory.parent:
            break
        if (directory / "idVendor").is_file():
            return _read(directory / "serial")
    return None


def _kernel_long_bits() -> int:
    machine = os.uname().machine
    return 64 if "64" in machine or machine in {"s390x", "alpha"} else 32


def _parse_bitmap(text: str, long_bits: int) -> int:
    """A sysfs capability bitmap: hex words of the kernel's ``long``, most significant first."""
    value = 0
    for word in text.split():
        try:
            value = value << long_bits | int(word, 16)
        except ValueError:
            return 0
    return value


def _node_number(path: Path) -> int:
    digits = re.sub(r"\D", "", path.name)
    return int(digits) if digits else -1


# --- serial ports ----------------------------------------------------------------------------


def list_serial_ports(dev_root: Path = Path("/dev")) -> list[SerialPortInfo]:
    """Serial ports pyserial lists (USB CDC-ACM and USB-serial adapters, real UARTs).

    pyserial reads sysfs only; no port is opened.
    """
    from serial.tools import list_ports  # noqa: PLC0415 (only `edge devices` needs it)

    by_id = _links(dev_root / "serial" / "by-id")
    by_path = _links(dev_root / "serial" / "by-path")
    ports = []
    for port in sorted(list_ports.comports(), key=lambda p: str(p.device)):
        device = str(port.device)
        real = os.path.realpath(device)
        ports.append(
            SerialPortInfo(
                device=device,
                description=str(port.description or ""),
                vendor=port.vid,
                product=port.pid,
                serial=str(port.serial_number or ""),
                location=str(port.location or ""),
                by_id=tuple(by_id.get(real, ())),
                by_path=tuple(by_path.get(real, ())),
                readable=os.access(device, os.R_OK | os.W_OK),
            )
        )
    return ports


def discover(sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")) -> DeviceReport:
    """Input devices that could be scanners and every serial port, for ``edge devices``."""
    inputs = [d for d in list_input_devices(sys_root, dev_root) if d.has_text_keys]
    return DeviceReport(
        inputs=tuple(inputs),
        serial_ports=tuple(list_serial_ports(dev_root)),
        has_input_devices_dir=(dev_root / "input").is_dir(),
    )


# --- identical devices -----------------------------------------------------------------------


def identical_inputs(devices: Iterable[InputDeviceInfo]) -> dict[str, tuple[str, ...]]:
    """For each node that has an identical twin, the devnodes of its twins.

    Identical: the same vendor:product and name, no serial number, on different USB ports
    (two nodes of one device, e.g. its keyboard and its second interface, share a port and
    are not twins).
    """
    groups: dict[tuple[int, int, int, str], list[InputDeviceInfo]] = defaultdict(list)
    for device in devices:
        if not device.serial and (device.vendor or device.product):
            groups[device.bustype, device.vendor, device.product, device.name].append(device)
    twins: dict[str, tuple[str, ...]] = {}
    for members in groups.values():
        if len({m.usb_port for m in members}) < 2:
            continue
        for member in members:
            others = tuple(m.devnode for m in members if m.devnode != member.devnode)
            twins[member.devnode] = others
    return twins


def identical_serial_ports(ports: Iterable[SerialPortInfo]) -> dict[str, tuple[str, ...]]:
    """For each serial port with an identical twin (same vendor:product, no serial), the twins."""
    groups: dict[tuple[int, int], list[SerialPortInfo]] = defaultdict(list)
    for port in ports:
        if port.vendor is not None and port.product is not None and not port.serial:
            groups[port.vendor, port.product].append(port)
    twins: dict[str, tuple[str, ...]] = {}
    for members in groups.values():
        if len(members) > 1:
            for member in members:
                twins[member.device] = tuple(m.device for m in members if m is not member)
    return twins


# --- config lines ----------------------------------------------------------------------------


def _links(directory: Path) -> dict[str, list[str]]:
    """Symlinks in ``directory`` grouped by the real path they point to."""
    result: dict[str, list[str]] = defaultdict(list)
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return result
    for entry in entries:
        if entry.is_symlink():
            result[os.path.realpath(entry)].append(str(entry))
    return result


def preferred_link(links: Sequence[str]) -> str | None:
    """The link naming the keyboard node (udev's ``-event-kbd``) if there is one."""
    for link in links:
        if link.endswith("-event-kbd"):
            return link
    return links[0] if links else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _read_hex(path: Path) -> int:
    try:
        return int(_read(path) or "0", 16)
    except ValueError:
        return 0
