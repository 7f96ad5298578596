"""What a consumer of a node's events must do, in one small class to copy.

Delivery is at least once, so the same event can arrive twice; a node's
events carry ``stream`` and ``seq`` (1, 2, 3, ... per stream, no gaps), so a
missing one can be seen. :class:`EventTracker` takes each received payload
(a parsed JSON object) and returns what it means:

* a new event (``Seen``), to act on once;
* a duplicate (same ``event_id`` as one already seen), to ignore;
* a gap: the seq jumped, naming the missing range; a late event that fills
  it is reported as a new event and closes that part of the gap;
* a restore: a ``restored`` event starts a new stream for the node, and
  names where the old one was cut (events after that seq are gone).

Large events may arrive in parts: each part is a whole payload with the
same ``event_id``, ``part_index`` (0, 1, ...), ``part_count`` and a slice of
the list named by ``part_field`` (e.g. ``lines``). The tracker waits for
every part and hands on the reassembled event.

Pure Python, no MQTT: ``edge tail`` feeds it from a subscription.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

PART_KEYS = ("part_index", "part_count", "part_field")
REMEMBERED_IDS = 100_000  # event ids kept for de-duplication, oldest forgotten first


@dataclass(frozen=True, slots=True)
class Seen:
    """A new event; ``filled`` when it is one a gap had reported missing."""

    payload: dict[str, Any]
    filled: bool = False


@dataclass(frozen=True, slots=True)
class Duplicate:
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Gap:
    """Events ``first``..``last`` of (node, stream) did not arrive (yet)."""

    node: str
    stream: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Restored:
    """The node's database was restored: a new stream; events of the old after ``cut`` are gone."""

    node: str
    old_stream: str | None
    cut: int
    new_stream: str


Observation = Seen | Duplicate | Gap | Restored


@dataclass
class _Stream:
    last: int  # the highest seq seen
    missing: set[int] = field(default_factory=set)


class EventTracker:
    def __init__(self, remembered: int = REMEMBERED_IDS) -> None:
        self._remembered = remembered
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._parts: dict[str, dict[int, dict[str, Any]]] = {}

    @property
    def open_gaps(self) -> int:
        """How many events reported missing have still not arrived."""
        return sum(len(stream.missing) for stream in self._streams.values())

    def feed(self, payload: dict[str, Any]) -> list[Observation]:
        event_id = str(payload.get("event_id"))
        if event_id in self._ids:
            return [Duplicate(payload)]
        if "part_count" in payload:
            whole = self._reassemble(event_id, payload)
            if whole is None:
                return []
            payload = whole
        self._remember(event_id)
        return self._track(payload)

    def _remember(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._remembered:
            self._ids.popitem(last=False)

    def _reassemble(self, event_id: str, part: dict[str, Any]) -> dict[str, Any] | None:
        """The whole event once every part of it arrived; None while some are missing."""
        parts = self._parts.setdefault(event_id, {})
        parts[int(part["part_index"])] = part
        if len(parts) < int(part["part_count"]):
            return None
        del self._parts[event_id]
        name = part["part_field"]
        ordered = [parts[index] for index in sorted(parts)]
        whole = {key: value for key, value in ordered[0].items() if key not in PART_KEYS}
        whole[name] = [item for piece in ordered for item in piece[name]]
        return whole

    def _track(self, payload: dict[str, Any]) -> list[Observation]:
        node, stream, seq = str(payload.get("node")), str(payload.get("stream")), payload.get("seq")
        if not isinstance(seq, int):
            return [Seen(payload)]  # not a sequenced event: nothing to track
        found: list[Observation] = []
        if payload.get("type") == "restored":
            found.append(Restored(node, payload.get("previous_stream"),
                                  int(payload.get("previous_last_seq") or 0), stream))  # fmt: skip
        known = self._streams.get((node, stream))
        if known is None:
            # The first event of a stream met here: the ones before it are before our time.
            known = self._streams[(node, stream)] = _Stream(last=seq - 1)
        if seq in known.missing:
            known.missing.discard(seq)
            return [*found, Seen(payload, filled=True)]
        if seq > known.last + 1:
            found.append(Gap(node, stream, known.last + 1, seq - 1))
            known.missing.update(range(known.last + 1, seq))
        known.last = max(known.last, seq)
        return [*found, Seen(payload)]
