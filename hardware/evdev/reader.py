"""EvdevScanner: reads one USB HID (keyboard-wedge) scanner through evdev, through unplugs.

One scanner, one thread: ``run(stop)`` finds the configured device, opens it, grabs it
exclusively (so its keys never reach a console, a login prompt or another program), and feeds
its key events to a :class:`~hardware.evdev.wedge.KeyboardWedgeDecoder`. Reads go to ``on_read``;
connection changes and problems go to ``on_state``, which logs them.

When the device disappears (unplugged, USB reset), the partial code is discarded, never glued
to the next one, and the scanner waits for the device to return. Waiting watches udev events
(pyudev) and rescans every 0.5 s, starting the watch before the first listing so a device that
returns between the two is not missed; the rescan also covers hosts without a udev daemon.
A device that returns is open within 0.5 s of udev having set it up.

The device's event timestamps are switched to the monotonic clock (EVIOCSCLOCKID), so key
times and ``time.monotonic()`` (the idle flush, ``RawRead.monotonic``) are one clock.
"""

from __future__ import annotations

import errno
import logging
import threading
import time

from hardware.evdev.device import (
    RESCAN_INTERVAL_S,
    DeviceSource,
    EventDevice,
    HotplugWatch,
    LinuxInputSource,
    permission_message,
    removal_detail,
)
from hardware.evdev.keymap import load_keymap
from hardware.evdev.match import DeviceMatch
from hardware.evdev.wedge import KeyboardWedgeDecoder
from hardware.options import Suffix
from hardware.reads import RawRead, ReadCallback, StateCallback, StateReporter, wait_readable

__all__ = ["EvdevScanner"]

log = logging.getLogger(__name__)

# How long the reader blocks before it checks the stop event again.
_STOP_CHECK_S = 0.25
# After stop, a code being typed may finish (by suffix or idle gap) for at most this long.
_STOP_GRACE_S = 1.0


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
        self._source: DeviceSource = source if source is not None else LinuxInputSource()
        self._state = StateReporter(scanner_id, on_state)

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
            if self._state.last == "connected":
                self._state.report("disconnected", "stopped")

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
            self._state.report("error", f"cannot list input devices: {exc}")
            return None
        if len(candidates) > 1:
            # One physical scanner may have several nodes; only those with text keys count.
            candidates = [d for d in candidates if d.has_text_keys] or candidates
        if not candidates:
            self._state.report("disconnected", f"waiting for {self.match.describe()}")
            return None
        if len(candidates) > 1:
            listed = "; ".join(f"{d.devnode} (phys {d.phys or '?'})" for d in candidates)
            self._state.report(
                "error",
                f"{len(candidates)} input devices match {self.match.describe()}: {listed}; "
                "bind this scanner by phys or by a /dev/input/by-path link (see `edge devices`)",
            )
            return None
        info = candidates[0]
        try:
            device = self._source.open(info.devnode, grab=self._grab)
        except PermissionError:
            self._state.report("error", permission_message(info))
            return None
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                self._state.report(
                    "error",
                    f"{info.devnode} ({info.name}) is grabbed by another program (EBUSY); "
                    "stop that program (another edge instance, a kiosk or remote-input tool) "
                    "or, for testing only, set grab = false",
                )
            else:
                # Gone between listing and opening, or not an input device after all.
                self._state.report("disconnected", f"cannot open {info.devnode}: {exc}")
            return None
        self._state.report("connected", f"{info.devnode} ({info.name})")
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
                ready = wait_readable(device.fileno(), timeout)
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
                self._lost(removal_detail(exc))
                return
            for event in events:
                self._emit(decoder.feed(event))

    def _lost(self, detail: str) -> None:
        self._decoder.reset()  # a code cut by the unplug is incomplete: never emit it
        self._state.report("disconnected", detail)

    def _emit(self, read: RawRead | None) -> None:
        if read is None:
            return
        try:
            self._on_read(self.scanner_id, read)
        except Exception:
            # The reader must outlive a faulty consumer; the failure is the consumer's to fix.
            log.exception("scanner %s: the read callback failed", self.scanner_id)
