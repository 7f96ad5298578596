"""The node's ``{prefix}/status`` messages as the relay publishes them.

Who the node is (site, node, boot, version) is fixed when the relay is
built; the clock's sync state, the outbox backlog and the daemon's extra
keys are read each time a message is built, so every status says what is
true when it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from edge.publish.status import status_payload
from edge.publish.upkeep import OutboxUpkeep
from edge.runtime.clock import clock_synced
from edge.store.outbox import Backlog

log = logging.getLogger("edge.publish.relay")  # its lines read as the relay's


class Announcer:
    """Builds the status messages of one node; ``extra`` adds the daemon's keys."""

    def __init__(
        self,
        *,
        boot: int,
        version: str,
        site: str,
        node: str,
        upkeep: OutboxUpkeep,
        extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._boot, self._version, self._site, self._node = boot, version, site, node
        self._upkeep = upkeep
        self._extra = extra

    def will(self) -> dict[str, Any]:
        """The Last Will: fixed at CONNECT, so it carries no backlog and none of the extra keys."""
        return self._message("offline", backlog=None, extra={"reason": "connection-lost"})

    def status(self, state: str, reason: str | None = None) -> dict[str, Any]:
        """The status now: ``state`` (online, offline), the backlog and the extra keys."""
        extra: dict[str, Any] = {}
        if self._extra is not None:
            try:
                extra = self._extra()
            except Exception:  # a broken extra must not stop the status
                log.exception("status_extra failed; status published without it")
        if reason is not None:
            extra = {**extra, "reason": reason}
        return self._message(state, backlog=self._upkeep.backlog, extra=extra)

    def _message(
        self, state: str, *, backlog: Backlog | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        return status_payload(
            state,
            boot=self._boot,
            version=self._version,
            site=self._site,
            node=self._node,
            at=datetime.now(UTC),
            synced=clock_synced(),
            backlog=backlog,
            outbox_full=self._upkeep.outbox_full,
            extra=extra,
        )
