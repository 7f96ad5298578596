"""Event payloads: an event rendered with its envelope, read back, summarized, replayed.

:func:`render` is the one place an event becomes a payload: the
:class:`~edge.domain.events.Envelope` every event shares, then the event's
own fields in declared order (their shape follows from their types: see
:mod:`edge.domain.events`). :func:`parse_event` reads a stored payload back
into its event, and :func:`mark_replayed` flags a stored payload text as
sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge.domain import exactjson
from edge.domain.event_layout import UnreadableEvent, layout_of
from edge.domain.events import EVENT_SCHEMA, EVENT_TYPES, REPLAYED, Envelope, Event


def render(envelope: Envelope, event: Event) -> dict[str, Any]:
    """The event's payload: the envelope, then the event's fields in declared order."""
    payload: dict[str, Any] = {
        "event_id": envelope.event_id,
        "type": event.TYPE,
        "schema": EVENT_SCHEMA,
        "occurred_at": envelope.occurred_at,
        "stream": envelope.stream,
        "seq": envelope.seq,
        "boot": envelope.boot,
        "site": envelope.site,
        "node": envelope.node,
    }
    cls = type(event)
    layout_of(cls).write(event, payload)
    return payload


def parse_event(payload: Mapping[str, Any]) -> Event:
    """The event a stored payload was rendered from (numbers read as exact decimals).

    The envelope and keys the event does not declare (such as
    :data:`REPLAYED`) are ignored.
    """
    event_type = payload.get("type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise UnreadableEvent(f"unknown event type {event_type!r}")
    return cls(**layout_of(cls).read(payload))


def summarize(payload: Mapping[str, Any]) -> str:
    """One line describing a stored payload; empty for a type this version does not know."""
    if payload.get("type") not in EVENT_TYPES:
        return ""
    return parse_event(payload).summary()


def mark_replayed(payload: str) -> str:
    """The stored payload text with the :data:`REPLAYED` flag added; every other byte unchanged.

    The flag goes last, so a consumer comparing two sends of an event sees
    the same text up to it.
    """
    text = payload.rstrip()
    if not text.endswith("}"):
        raise ValueError("an event payload is a JSON object")
    body = text[:-1].rstrip()
    separator = "" if body.endswith("{") else ","
    return f"{body}{separator}{_REPLAYED_MEMBER}}}"


_REPLAYED_MEMBER = f"{exactjson.dumps(REPLAYED)}:true"
