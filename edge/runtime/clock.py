"""The system clock: wall time, the monotonic clock and the boot it counts from."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from edge.domain.ports import Moment

_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
# Set by the systemd unit (Environment=EDGE_BOOT_ID=%b): its ProcSubset=pid
# hides /proc/sys from the daemon. systemd writes the id without dashes.
BOOT_ID_ENV = "EDGE_BOOT_ID"
# systemd-timesyncd creates this file once it has synchronised the clock.
_TIMESYNCD_SYNCED = Path("/run/systemd/timesync/synchronized")


def read_boot_id(proc_file: Path = _BOOT_ID_FILE) -> str | None:
    """The kernel's boot id in /proc's spelling (dashed, lower case), or None.

    /proc comes first, so a variable left over from another boot in a shell
    cannot override the kernel; both sources are written in one spelling, so
    the daemon under systemd and an edge command run from a shell agree."""
    candidates = []
    with contextlib.suppress(OSError):
        candidates.append(proc_file.read_text())
    candidates.append(os.environ.get(BOOT_ID_ENV, ""))
    for text in candidates:
        try:
            return str(uuid.UUID(text.strip()))
        except ValueError:
            continue
    return None


class SystemClock:
    """Monotonic readings compare across processes only within one boot, so each
    carries the kernel's boot id; where there is none, a per-process id keeps
    comparisons safe (never across processes)."""

    def __init__(self) -> None:
        self._boot_id = read_boot_id() or f"process-{uuid.uuid4()}"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def boot_id(self) -> str:
        return self._boot_id

    def moment(self) -> Moment:
        return Moment(self.now(), self.monotonic(), self._boot_id)

    def moment_at(self, monotonic: float) -> Moment:
        """The moment of an earlier monotonic reading (a scan's read time)."""
        wall = datetime.fromtimestamp(time.time() - (time.monotonic() - monotonic), UTC)
        return Moment(wall, monotonic, self._boot_id)


def clock_synced() -> bool | None:
    """Whether the kernel reports the wall clock as synchronised (NTP), if it says."""
    try:
        import ctypes  # noqa: PLC0415 - only the daemon's status asks this

        class _Timex(ctypes.Structure):
            _fields_ = [("modes", ctypes.c_uint), ("pad", ctypes.c_byte * 512)]

        libc = ctypes.CDLL(None, use_errno=True)
        state = libc.adjtimex(ctypes.byref(_Timex()))
    except (OSError, AttributeError):
        state = -1
    if state == -1:
        # The unit's ProtectClock= refuses adjtimex even for reading (EPERM);
        # then only timesyncd's mark can say yes, and its absence says nothing.
        return True if _TIMESYNCD_SYNCED.exists() else None
    time_error = 5  # TIME_ERROR: the clock is not synchronised
    return bool(state != time_error)
