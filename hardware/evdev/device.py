"""The input-device layer under the evdev reader: what it needs, and Linux's implementation.

The reader sees devices only through the Protocols here (:class:`DeviceSource`,
:class:`HotplugWatch`, :class:`EventDevice`), so its loop is tested on pipe-backed
fakes; :class:`LinuxInputSource` is the real one: listed from sysfs, watched with
udev (pyudev), opened and grabbed with evdev.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hardware.devices import InputDeviceInfo, list_input_devices
from hardware.evdev.wedge import InputEventLike
from hardware.reads import wait_readable

__all__ = [
    "RESCAN_INTERVAL_S",
    "DeviceSource",
    "EventDevice",
    "HotplugWatch",
    "LinuxInputSource",
    "permission_message",
    "removal_detail",
]

log = logging.getLogger(__name__)

# How often a missing device is looked for.
RESCAN_INTERVAL_S = 0.5

# EVIOCSCLOCKID = _IOW('E', 0xa0, int): which clock stamps this client's events.
_EVIOCSCLOCKID = 0x400445A0


# --- the device layer, as Protocols (the real one is LinuxInputSource) -----------------------


class EventDevice(Protocol):
    """An open input device."""

    def fileno(self) -> int: ...

    def read_events(self) -> Sequence[InputEventLike]:
        """Pending events; BlockingIOError when there are none, OSError when it is gone."""
        ...

    def close(self) -> None:
        """Release the grab and close; must not raise when the device is already gone."""
        ...


class HotplugWatch(Protocol):
    """Notice of input devices coming and going, started before the first listing."""

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Return on a device change, after ``timeout`` seconds, or soon after ``stop``."""
        ...

    def close(self) -> None: ...


class DeviceSource(Protocol):
    """Where input devices are listed, watched and opened."""

    def watch(self) -> HotplugWatch: ...

    def devices(self) -> list[InputDeviceInfo]: ...

    def open(self, devnode: str, *, grab: bool) -> EventDevice:
        """Open (and grab) a device: PermissionError, OSError(EBUSY) or OSError when gone."""
        ...


def removal_detail(exc: OSError) -> str:
    if exc.errno == errno.ENODEV:
        return "device removed"
    return f"device error: {exc}"


def permission_message(info: InputDeviceInfo) -> str:
    try:
        group = Path(info.devnode).group()
    except (OSError, KeyError):
        group = "input"
    if group == "root":
        # No udev rule gave the node a group: the usual one is "input".
        group = "input"
    ids = (
        f'ATTRS{{idVendor}}=="{info.vendor:04x}", ATTRS{{idProduct}}=="{info.product:04x}", '
        if info.vendor or info.product
        else ""
    )
    return (
        f"permission denied opening {info.devnode} ({info.name}) (EACCES): the service user "
        f"must be in group '{group}' (SupplementaryGroups={group} in the systemd unit, or "
        f"`usermod -aG {group} USER`), and the node must belong to that group: install the "
        "udev rule 99-backflush-edge-scanners.rules (`edge init` shows where) or add "
        f'one such as SUBSYSTEM=="input", {ids}'
        f'GROUP="{group}", MODE="0660", then run `udevadm control --reload && udevadm trigger`'
    )


# --- the real device layer: evdev, sysfs, pyudev ---------------------------------------------


class LinuxInputSource:
    """Input devices as Linux has them: listed from sysfs, watched with udev, read by evdev."""

    def __init__(self, sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev")) -> None:
        self._sys_root = sys_root
        self._dev_root = dev_root

    def watch(self) -> HotplugWatch:
        try:
            return _UdevWatch()
        except (ImportError, OSError) as exc:
            log.info("no udev monitor (%s): looking for scanners every %ss", exc, RESCAN_INTERVAL_S)
            return _PeriodicWatch()

    def devices(self) -> list[InputDeviceInfo]:
        return list_input_devices(self._sys_root, self._dev_root)

    def open(self, devnode: str, *, grab: bool) -> EventDevice:
        return _EvdevDevice(devnode, grab=grab)


class _EvdevDevice:
    def __init__(self, path: str, *, grab: bool) -> None:
        import evdev  # noqa: PLC0415 (keeps `hardware.evdev.reader` importable for config checks)

        self._device = evdev.InputDevice(path)
        self._grabbed = False
        try:
            self._kernel_monotonic = _use_monotonic_clock(self._device.fd)
            if grab:
                self._device.grab()
                self._grabbed = True
        except BaseException:
            self._device.close()
            raise

    def fileno(self) -> int:
        return self._device.fd

    def read_events(self) -> Sequence[InputEventLike]:
        events = list(self._device.read())
        if self._kernel_monotonic:
            return events
        # The kernel would not stamp on the monotonic clock: stamp on arrival instead.
        now = time.monotonic()
        return [_Restamped(event.type, event.code, event.value, now) for event in events]

    def close(self) -> None:
        if self._grabbed:
            with contextlib.suppress(OSError):
                self._device.ungrab()  # fails harmlessly when the device is already gone
            self._grabbed = False
        with contextlib.suppress(OSError):
            self._device.close()


def _use_monotonic_clock(fd: int) -> bool:
    try:
        fcntl.ioctl(fd, _EVIOCSCLOCKID, struct.pack("i", time.CLOCK_MONOTONIC))
    except OSError as exc:
        log.warning("cannot set the event clock to monotonic (%s): stamping on arrival", exc)
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Restamped:
    type: int
    code: int
    value: int
    at: float

    def timestamp(self) -> float:
        return self.at


class _UdevWatch:
    """udev's device events for the input subsystem (sent after udev set permissions)."""

    def __init__(self) -> None:
        import pyudev  # noqa: PLC0415 (optional at run time: without it, rescans suffice)

        self._monitor: Any = pyudev.Monitor.from_netlink(pyudev.Context())
        self._monitor.filter_by("input")
        self._monitor.start()

    def wait(self, timeout: float, stop: threading.Event) -> None:
        end = time.monotonic() + timeout
        while not stop.is_set():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if self._monitor is None:
                stop.wait(remaining)
                return
            try:
                ready = wait_readable(self._monitor.fileno(), min(remaining, 0.1))
            except (OSError, ValueError):
                stop.wait(remaining)
                return
            if ready:
                self._drain()
                return

    def _drain(self) -> None:
        # Any event means "look again"; which one does not matter, the listing decides.
        try:
            while self._monitor.poll(timeout=0) is not None:
                pass
        except OSError as exc:
            # ENOBUFS: events were lost while we were reading a scanner; the rescan covers it.
            log.debug("udev monitor: %s", exc)

    def close(self) -> None:
        # pyudev closes the netlink socket when the monitor is collected; drop it now.
        self._monitor = None


class _PeriodicWatch:
    """No udev events: the caller rescans after every timeout."""

    def wait(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(timeout)

    def close(self) -> None:
        pass
