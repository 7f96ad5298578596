"""The system clock: wall time, the monotonic clock and the boot it counts from."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from edge.domain.ports import Moment

_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


class SystemClock:
    """Monotonic readings compare across processes only within one boot, so each
    carries the kernel's boot id; where there is none, a per-process id keeps
    comparisons safe (never across processes)."""

    def __init__(self) -> None:
        try:
            self._boot_id = _BOOT_ID_FILE.read_text().strip()
        except OSError:
            self._boot_id = f"process-{uuid.uuid4()}"

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
        return None
    time_error = 5  # TIME_ERROR: the clock is not synchronised
    return bool(state != time_error)
