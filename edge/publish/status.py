"""What the relay says about itself: the ``{prefix}/status`` message (retained, and the
Last Will) and the :class:`RelayState` behind the systemd STATUS line. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.domain.timestamps import rfc3339
from edge.store.outbox import Backlog


def status_payload(
    state: str,
    *,
    boot: int,
    version: str,
    site: str,
    node: str,
    at: datetime,
    synced: bool | None,
    backlog: Backlog | None,
    outbox_full: bool,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``{prefix}/status`` message. ``extra`` adds keys; it cannot replace these."""
    payload: dict[str, Any] = dict(extra or {})
    payload |= {
        "state": state,
        "boot": boot,
        "version": version,
        "site": site,
        "node": node,
        "at": rfc3339(at),
        "clock_synced": synced,
        "backlog": None if backlog is None else backlog.events,
        "set_aside": None if backlog is None else backlog.set_aside,
        "outbox_full": outbox_full,
    }
    return payload


@dataclass(frozen=True, slots=True)
class RelayState:
    """What the relay is doing, for the systemd STATUS line and `edge run` logs."""

    connected: bool = False
    pending: int = 0  # events not yet acknowledged (set-aside ones included)
    set_aside: int = 0  # events the broker refused, waiting for a retry
    stock_pending: int = 0  # stock states not yet acknowledged
    outbox_full: bool = False
    last_error: str | None = None
    failed_attempts: int = 0  # connection attempts failed since the last success
    retry_delay_s: float | None = None  # while disconnected: the wait before the next attempt

    def line(self) -> str:
        parts = ["mqtt " + ("connected" if self.connected else "DISCONNECTED")]
        parts.append(f"{self.pending} events pending")
        if self.set_aside:
            parts.append(f"{self.set_aside} SET ASIDE")
        if self.outbox_full:
            parts.append("OUTBOX FULL")
        if not self.connected and self.failed_attempts:
            parts.append(f"{self.failed_attempts} failed attempts")
        return ", ".join(parts)
