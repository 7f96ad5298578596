"""Which message makes the broker drop the connection. Pure: no I/O, the caller passes the time.

Some brokers close the connection on a message instead of refusing it: mosquitto
2.0 does so for a packet over ``max_packet_size`` on MQTT 3.1.1 (MQTT 5 clients
are told the limit in the CONNACK and get a DISCONNECT "Packet too large"), and
for a payload over ``message_size_limit`` on MQTT 5 (DISCONNECT "Protocol
error"). Sent again after every reconnect, first in ``seq`` order, such a
message would stop every event behind it forever.

The heuristic: a loss is *suspicious* when a publish was waiting for its
PUBACK and had been sent at most :data:`LOSS_WINDOW_S` before the loss (a
broker dropping a client for a packet does it on reading it). The oldest such
publish is the suspect. After a suspicious loss the next connections are
*careful*: one publish in flight at a time, so the publish in flight at the
next loss is known exactly. The suspect is blamed when :data:`LOSSES_TO_BLAME`
suspicious losses in a row had it in flight; its PUBACK, a loss with another
suspect, or a loss with nothing freshly sent clears the count. An ordinary
broker restart does not misfire: after it, the suspect is sent again and
acknowledged. A blamed message is set aside like a refused one; in flight at
a loss again (its retry), it is blamed at once and its retry delay doubles.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

LOSSES_TO_BLAME = 3  # suspicious losses in a row with the same publish in flight
LOSS_WINDOW_S = 5.0  # a publish sent longer ago than this before a loss is not suspected
CALM_ACKS = 100  # careful connections end after this many PUBACKs with no loss
BLAMED = (
    "the broker closed the connection each time this message was sent "
    "(larger than its max_packet_size or message_size_limit?)"
)


class LossWatch:
    """The suspect of the last connection losses, and whether to be careful."""

    def __init__(self) -> None:
        self._suspect: Hashable | None = None
        self._losses = 0
        self._acks = 0
        self._blamed: set[Hashable] = set()

    @property
    def careful(self) -> bool:
        """Send one publish at a time: a suspect is being narrowed down."""
        return self._suspect is not None

    def lost(
        self, in_flight: Sequence[tuple[Hashable | None, float]], now: float
    ) -> list[Hashable]:
        """A connection loss with ``in_flight`` (key, time sent; oldest first) awaiting
        PUBACK; the keys to blame for it. A key blamed before and sent again is
        blamed at once; a None key (the status) is never suspected."""
        self._acks = 0
        in_flight = [(key, sent_at) for key, sent_at in in_flight if key is not None]
        fresh = [key for key, sent_at in in_flight if now - sent_at <= LOSS_WINDOW_S]
        again = [key for key in fresh if key in self._blamed]
        if again:
            return again
        oldest = fresh[0] if fresh and fresh[0] == in_flight[0][0] else None
        if oldest is None:  # nothing freshly sent was waiting: an ordinary loss
            self._suspect, self._losses = None, 0
            return []
        if oldest != self._suspect:
            self._suspect, self._losses = oldest, 0
        self._losses += 1
        if self._losses < LOSSES_TO_BLAME:
            return []
        self._blamed.add(oldest)
        self._suspect, self._losses = None, 0
        return [oldest]

    def acknowledged(self, key: Hashable) -> None:
        """A PUBACK came for ``key``: it is not to blame, and enough of them end care."""
        self._blamed.discard(key)
        if key == self._suspect:
            self._losses = 0
        self._acks += 1
        if self._acks >= CALM_ACKS:
            self._suspect, self._losses = None, 0
