"""EvdevScanner: reads one USB HID (keyboard-wedge) scanner through evdev, through unplugs.

One scanner, one thread: ``run(stop)`` finds the configured device, opens it, grabs it
exclusively (so its keys never reach a console, a login prompt or another program), and feeds
its key events to a :class:`~hardware.evdev.wedge.KeyboardWedgeDecoder`. Reads go to ``on_read``;
connection changes and problems go to ``on_state`` and the log.

When the device disappears (unplugged, USB reset), the partial code is discarded, never glued
to the next one, and the scanner waits for the device to return. Waiting watches udev events
(pyudev) and rescans every 0.5 s, starting the watch before the first listing so a device that
returns between the two is not missed; the rescan also covers hosts without a udev daemon.
A device that returns is open within 0.5 s of udev having set it up.

The device's event timestamps are switched to the monotonic clock (EVIOCSCLOCKID), so key
times and ``time.monotonic()`` (the idle flush, ``RawRead.monotonic``) are one clock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hardware.devices import MATCH_RULES, InputDeviceInfo, list_input_devices
from hardware.evdev.keymap import load_keymap
from hardware.evdev.wedge import InputEventLike, KeyboardWedgeDecoder, Suffix
from hardware.reads import RawRead, ReadCallback, StateCallback

__all__ = [
    "DeviceMatch",
    "DeviceSource",
    "EvdevScanner",
    "EventDevice",
    "HotplugWatch",
    "LinuxInputSource",
]

log = logging.getLogger(__name__)

# How often a missing device is looked for, and how long the reader blocks before it checks
# the stop event again.
RESCAN_INTERVAL_S = 0.5
_STOP_CHECK_S = 0.25
# After stop, a code being typed may finish (by suffix or idle gap) for at most this long.
_STOP_GRACE_S = 1.0

# EVIOCSCLOCKID = _IOW('E', 0xa0, int): which clock stamps this client's events.
_EVIOCSCLOCKID = 0x400445A0


@dataclass(frozen=True, slots=True)
class DeviceMatch:
    """Which input device a scanner is, by exactly one rule.

    ``device`` is a path (``/dev/input/eventN``, or a stable udev link such as
    ``/dev/input/by-id/...`` or ``/dev/input/by-path/...``); ``name`` the kernel's device
    name; ``vendor`` and ``product`` the USB ids (together), narrowed by ``serial`` (the USB
    serial number, or the kernel's uniq) when the scanner has one; ``phys`` the kernel's
    physical path (the USB port), which tells identical scanners apart.

    One rule and never a combination, the same as a [[scanner]] table in the config file,
    so the reader binds exactly what the config says and nothing the config would refuse.
    """

    device: str | None = None
    name: str | None = None
    vendor: int | None = None
    product: int | None = None
    serial: str | None = None
    phys: str | None = None

    def __post_init__(self) -> None:
        if (self.vendor is None) != (self.product is None):
            raise ValueError("vendor and product must be given together")
        if self.serial is not None and self.vendor is None:
            raise ValueError("serial narrows vendor+product: give vendor and product too")
        values = (self.device, self.name, self.vendor, self.phys)
        rules = [rule for rule, value in zip(MATCH_RULES, values, strict=True) if value is not None]
        one_of = ", ".join(MATCH_RULES[:-1]) + " or " + MATCH_RULES[-1]
        if not rules or self.phys == "":
            raise ValueError(f"a scanner needs one of {one_of}")
        if len(rules) > 1:
            raise ValueError(f"{' and '.join(rules)} are given together; match by one of {one_of}")

    def matches(self, info: InputDeviceInfo) -> bool:
        if self.device is not None:
            return os.path.realpath(self.device) == os.path.realpath(info.devnode)
        if self.name is not None:
            return self.name == info.name
        if self.vendor is not None:
            same_usb_id = (self.vendor, self.product) == (info.vendor, info.product)
            return same_usb_id and self.serial in (None, info.serial)
        return self.phys == info.phys

    def describe(self) -> str:
        parts = []
        if self.device is not None:
            parts.append(f"device {self.device}")
        if self.name is not None:
            parts.append(f"name {self.name!r}")
        if self.vendor is not None and self.product is not None:
            parts.append(f"vendor:product {self.vendor:04x}:{self.product:04x}")
        if self.serial is not None:
            parts.append(f"serial {self.serial!r}")
        if self.phys is not None:
            parts.append(f"phys {self.phys!r}")
        return ", ".join(parts)


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


# --- the scanner -----------------------------------------------------------------------------


class EvdevScanner:
    """One configured keyboard-wedge scanner, read until ``stop`` is set."""

    def __init__(
        self,
        scanner_id: str,
        match: DeviceMatch,
        *,
        layout: str = "us",
        suffix: Suffix = "enter",
        idle_ms: int = 50,
        max_length: int = 512,
        grab: bool = True,
        on_read: ReadCallback,
        on_state: StateCallback,
        source: DeviceSource | None = None,
    ) -> None:
        """Raises ValueError (KeymapError for the layout) for settings that cannot work.

        ``grab = False`` leaves the device shared: every scan is then also typed into
        whatever has the keyboard focus (a console, a login prompt). Only for testing.
        """
        self.scanner_id = scanner_id
        self.match = match
        self._decoder = KeyboardWedgeDecoder(
            load_keymap(layout), suffix=suffix, idle_ms=idle_ms, max_length=max_length
        )
        self._grab = grab
        self._on_read = on_read
        self._on_state = on_state
        self._source: DeviceSource = source if source is not None else LinuxInputSource()
        self._last_state: tuple[str, str] | None = None

    def feedback(self, good: bool) -> None:
        """Do nothing: a keyboard wedge cannot be written back to.

        A HID keyboard has no channel from the host for beeps or lights (only the keyboard
        LEDs, which scanners ignore), and the scanner has already beeped when it decoded the
        code, before the daemon saw a key. Stations that must signal "committed" use the
        scanner's serial (USB CDC-ACM) mode and a serial reader.
        """

    def run(self, stop: threading.Event) -> None:
        """Read the scanner until ``stop`` is set; never raises because the device went away."""
        watch = self._source.watch()  # watch before the first listing: no return is missed
        try:
            while not stop.is_set():
                device = self._acquire(watch, stop)
                if device is None:
                    break
                try:
                    self._read(device, stop)
                finally:
                    device.close()
        finally:
            watch.close()
            self._decoder.reset()
            if self._last_state is not None and self._last_state[0] == "connected":
                self._report("disconnected", "stopped")

    # --- finding and opening ----------------------------------------------------------------

    def _acquire(self, watch: HotplugWatch, stop: threading.Event) -> EventDevice | None:
        while not stop.is_set():
            device = self._try_open()
            if device is not None:
                return device
            watch.wait(RESCAN_INTERVAL_S, stop)
        return None

    def _try_open(self) -> EventDevice | None:
        try:
            candidates = [d for d in self._source.devices() if self.match.matches(d)]
        except OSError as exc:
            self._report("error", f"cannot list input devices: {exc}")
            return None
        if len(candidates) > 1:
            # One physical scanner may have several nodes; only those with text keys count.
            candidates = [d for d in candidates if d.has_text_keys] or candidates
        if not candidates:
            self._report("disconnected", f"waiting for {self.match.describe()}")
            return None
        if len(candidates) > 1:
            listed = "; ".join(f"{d.devnode} (phys {d.phys or '?'})" for d in candidates)
            self._report(
                "error",
                f"{len(candidates)} input devices match {self.match.describe()}: {listed}; "
                "bind this scanner by phys or by a /dev/input/by-path link (see `edge devices`)",
            )
            return None
        info = candidates[0]
        try:
            device = self._source.open(info.devnode, grab=self._grab)
        except PermissionError:
            self._report("error", _permission_message(info))
            return None
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                self._report(
                    "error",
                    f"{info.devnode} ({info.name}) is grabbed by another program (EBUSY); "
                    "stop that program (another edge instance, a kiosk or remote-input tool) "
                    "or, for testing only, set grab = false",
                )
            else:
                # Gone between listing and opening, or not an input device after all.
                self._report("disconnected", f"cannot open {info.devnode}: {exc}")
            return None
        self._report("connected", f"{info.devnode} ({info.name})")
        return device

    # --- reading ----------------------------------------------------------------------------

    def _read(self, device: EventDevice, stop: threading.Event) -> None:
        decoder = self._decoder
        decoder.reset()
        stop_by: float | None = None
        while True:
            now = time.monotonic()
            if stop.is_set():
                # Let a code being typed finish by its suffix or the idle gap, briefly.
                stop_by = stop_by if stop_by is not None else now + _STOP_GRACE_S
                if not decoder.in_progress or now >= stop_by:
                    return
            deadline = decoder.deadline()
            timeout = _STOP_CHECK_S if deadline is None else min(_STOP_CHECK_S, deadline - now)
            try:
                ready, _, _ = select.select([device.fileno()], [], [], max(0.0, timeout))
            except (OSError, ValueError) as exc:
                self._lost(f"device error: {exc}")
                return
            if not ready:
                self._emit(decoder.poll(time.monotonic()))
                continue
            try:
                events = device.read_events()
            except BlockingIOError:
                continue
            except OSError as exc:
                self._lost(_removal_detail(exc))
                return
            for event in events:
                self._emit(decoder.feed(event))

    def _lost(self, detail: str) -> None:
        self._decoder.reset()  # a code cut by the unplug is incomplete: never emit it
        self._report("disconnected", detail)

    def _emit(self, read: RawRead | None) -> None:
        if read is None:
            return
        try:
            self._on_read(self.scanner_id, read)
        except Exception:
            # The reader must outlive a faulty consumer; the failure is the consumer's to fix.
            log.exception("scanner %s: the read callback failed", self.scanner_id)

    def _report(self, state: str, detail: str) -> None:
        if self._last_state == (state, detail):
            return  # said once; a rescan every 0.5 s must not repeat it
        self._last_state = (state, detail)
        level = {"connected": logging.INFO, "disconnected": logging.WARNING}.get(
            state, logging.ERROR
        )
        log.log(level, "scanner %s %s: %s", self.scanner_id, state, detail)
        try:
            self._on_state(self.scanner_id, state, detail)
        except Exception:
            log.exception("scanner %s: the state callback failed", self.scanner_id)


def _removal_detail(exc: OSError) -> str:
    if exc.errno == errno.ENODEV:
        return "device removed"
    return f"device error: {exc}"


def _permission_message(info: InputDeviceInfo) -> str:
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
        "udev rule systemd/99-backflush-edge-scanners.rules (to /etc/udev/rules.d/) or add "
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
                ready, _, _ = select.select([self._monitor.fileno()], [], [], min(remaining, 0.1))
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
