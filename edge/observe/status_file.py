"""The status file: the running daemon's state, next to its database, for ``edge status``.

``edge status`` must answer with the display off, so the daemon writes
``<database>.status.json`` once a second (a new file renamed over the old one:
a reader never sees half of it; not fsynced, it is state, not a record) and
removes it when it stops. A file left by a killed daemon names a process that
is gone, or a process that is not the one that wrote it (a pid used again):
the file records its writer's pid and the kernel's start time of that pid, and
the reader checks both against ``/proc``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SUFFIX: Final = ".status.json"
# A file not rewritten for this long belongs to a daemon that hangs.
STALE_S: Final = 30.0


def status_path(database: Path) -> Path:
    return database.with_name(database.name + SUFFIX)


def process_start(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces and parentheses.
    return int(stat[stat.rindex(")") + 2 :].split()[19])


class StatusFile:
    def __init__(self, database: Path) -> None:
        self.path = status_path(database)
        self.pid = os.getpid()
        self.started = process_start(self.pid)
        self._temporary = self.path.with_name(f".{self.path.name}.{self.pid}")

    def write(self, body: dict[str, Any]) -> None:
        data = json.dumps({"pid": self.pid, "process_start": self.started, **body}, indent=1)
        self._temporary.write_text(data + "\n")
        self._temporary.replace(self.path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True, slots=True)
class Found:
    """What ``edge status`` found: the status when a daemon runs, else why not."""

    status: dict[str, Any] | None
    why_not: str


def read_status(database: Path, now: float) -> Found:
    """The running daemon's status for ``database``, or why no daemon runs on it."""
    path = status_path(database)
    try:
        status = json.loads(path.read_text())
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return Found(None, f"no edge daemon runs on {database} (no {path.name})")
    except (OSError, ValueError) as error:
        return Found(None, f"cannot read {path}: {error}")
    pid = status.get("pid")
    if not isinstance(pid, int) or process_start(pid) != status.get("process_start"):
        return Found(None, f"no edge daemon runs on {database}: process {pid}, which wrote "
                           f"{path.name}, has exited")  # fmt: skip
    if now - mtime > STALE_S:
        return Found(None, f"the edge daemon (pid {pid}) has not updated {path.name} for "
                           f"{now - mtime:.0f} s: it hangs")  # fmt: skip
    return Found(status, "")
