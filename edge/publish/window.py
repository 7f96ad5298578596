"""The publish window: what is in flight on a connection, by paho message id, until
its PUBACK. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventItem:
    """An outbox row in flight: the whole row, or part ``part`` of ``parts`` of it."""

    seq: int
    topic: str
    part: int = 0
    parts: int = 1


@dataclass(frozen=True, slots=True)
class StockItem:
    """A part's stock state in flight, at the version that was published."""

    part: str
    version: int
    topic: str


@dataclass(frozen=True, slots=True)
class StatusItem:
    """The status message in flight."""

    state: str
    topic: str


InFlight = EventItem | StockItem | StatusItem  # what a PUBACK answers


class Window:
    """Publishes awaiting their PUBACK, by paho message id; at most ``limit`` at a time."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._items: dict[int, tuple[InFlight, float]] = {}  # in the order sent

    @property
    def free(self) -> int:
        return max(0, self.limit - len(self._items))

    def add(self, mid: int, item: InFlight, sent_at: float = 0.0) -> None:
        self._items[mid] = (item, sent_at)

    def pop(self, mid: int) -> InFlight | None:
        found = self._items.pop(mid, None)
        return None if found is None else found[0]

    def in_flight(self) -> list[tuple[InFlight, float]]:
        """Every publish awaiting its PUBACK and when it was sent, oldest first."""
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def loss_key(item: InFlight | None) -> tuple[str, object] | None:
    """What a lost connection can be blamed on (see :mod:`edge.publish.losses`): an
    event row (any of its parts) or a part's stock state; never the status."""
    if isinstance(item, EventItem):
        return ("event", item.seq)
    if isinstance(item, StockItem):
        return ("stock", item.part)
    return None
