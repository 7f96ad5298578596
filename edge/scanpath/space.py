"""The free-space floor the scan writer keeps under the database (``database.min_free_mb``)."""

from __future__ import annotations

from pathlib import Path

from edge.domain.ports import Clock
from edge.store.database import free_megabytes

SPACE_CHECK_S = 1.0  # how long a check of free space far above the floor holds
SPACE_MARGIN_MB = 256  # far above: no plant's writes fill this in a second


class FreeSpace:
    """Whether the disk has room above the floor; asked once a second while it has plenty.

    Asking is a system call, which lets the relay's threads take Python's
    lock for up to a switch interval while the batch waits. Far above the
    floor (SPACE_MARGIN_MB more), the answer holds for a second; near it or
    below it, every batch asks, so the first scan past the floor is refused
    and the first after space is freed is taken.
    """

    def __init__(self, database_path: Path, min_free_mb: float, clock: Clock) -> None:
        self.database_path = database_path
        self.min_free_mb = min_free_mb
        self._clock = clock
        self._ok_until = 0.0

    def change_floor(self, min_free_mb: float) -> None:
        """A reloaded ``database.min_free_mb``: the next batch asks again, so a floor
        raised above what the disk has refuses the very next scan."""
        self.min_free_mb = min_free_mb
        self._ok_until = 0.0

    def ok(self) -> bool:
        now = self._clock.monotonic()
        if self._ok_until > now:
            return True
        try:
            free = free_megabytes(self.database_path)
        except OSError:
            return False
        if free >= self.min_free_mb + SPACE_MARGIN_MB:
            self._ok_until = now + SPACE_CHECK_S
        return free >= self.min_free_mb
