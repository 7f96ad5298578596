"""JSON Schemas (draft 2020-12) of what the node publishes, read from the typed events.

Each event's schema is built from its dataclass (:mod:`edge.domain.events`):
the envelope every event shares, then the event's fields with their
declared types, so a field added to an event is in its schema without a
second declaration. A field written only when true (``ONLY_WHEN_TRUE``) is
optional; so is ``replayed`` (a re-send) and, on a large event, the part
keys (``part_index``, ``part_count``, ``part_field``). The retained stock and
status messages are declared here beside them.

Quantities are exact decimals written as JSON numbers: read them with a
decimal parser (``json.loads(text, parse_float=Decimal)`` in Python), never
as binary floats.

Names follow the topics: ``event/<type>``, ``stock``, ``status``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import fields
from decimal import Decimal
from typing import Any, Union, get_args, get_origin, get_type_hints

from edge.domain.event_layout import ONLY_WHEN_TRUE, CommandErrors, PartBalances, UomLines
from edge.domain.events import EVENT_SCHEMA, EVENT_TYPES, REPLAYED, Envelope, Event
from edge.domain.model import Replenishment

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "urn:backflush-edge:schema:"

QUANTITY: dict[str, Any] = {
    "type": "number",
    "description": "an exact decimal (at most 6 places on input); read it as a decimal",
}
TIMESTAMP: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339, UTC",
}
UOM: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "null"}],
    "description": "the part's unit of measure (its item's uom; null for a part without one)",
}
_SPARSE_KEY = next(iter(ONLY_WHEN_TRUE))
_UUID: dict[str, Any] = {"type": "string", "format": "uuid"}
_ENVELOPE_SHAPES: Mapping[str, dict[str, Any]] = {
    "event_id": _UUID,
    "stream": _UUID,
    "occurred_at": TIMESTAMP,
}

# What an envelope field means; the event's own fields are described by their class.
ENVELOPE_NOTES: Mapping[str, str] = {
    "event_id": "unique per event, the same on every send: de-duplicate by it",
    "occurred_at": "when it happened on the node, not when it was sent",
    "stream": "a UUID made with the database and replaced by every restore",
    "seq": "1, 2, 3, ... within the stream, with no gaps: a missing one was lost",
    "boot": "raised by every start of edge run",
    "site": "the site id of the node's config",
    "node": "the node id of the node's config",
}


def _type_schema(hint: Any) -> dict[str, Any]:
    """The schema of one declared field type."""
    if hint is Decimal:
        return dict(QUANTITY)
    if hint == UomLines:
        return {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "part": {"type": "string"},
                    "quantity": dict(QUANTITY),
                    "uom": dict(UOM),
                },
                "required": ["part", "quantity", "uom"],
                "additionalProperties": False,
            },
        }
    if hint == PartBalances:
        return {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "part": {"type": "string"},
                    "on_hand": dict(QUANTITY),
                    "uom": {"type": "string"},
                },
                "required": ["part", "on_hand", "uom"],
                "additionalProperties": False,
            },
        }
    if hint == CommandErrors:
        return {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "a JSON path in the command"},
                    "message": {"type": "string"},
                },
                "required": ["path", "message"],
                "additionalProperties": False,
            },
        }
    simple = {str: "string", int: "integer", bool: "boolean"}
    if hint in simple:
        return {"type": simple[hint]}
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": _type_schema(args[0])}
    if origin in (Union, types.UnionType) and type(None) in args:
        others = [arg for arg in args if arg is not type(None)]
        inner = _type_schema(others[0] if len(others) == 1 else Union[tuple(others)])  # noqa: UP007
        return {"anyOf": [inner, {"type": "null"}]}
    raise TypeError(f"no JSON Schema for the field type {hint!r}")


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The schema of one event type's payload."""
    properties: dict[str, Any] = {
        "event_id": {},  # its place: first, as in every payload
        "type": {"const": cls.TYPE},
        "schema": {"const": EVENT_SCHEMA, "description": "the payload's version"},
    }
    hints = get_type_hints(Envelope)
    for envelope_field in fields(Envelope):
        name = envelope_field.name
        shape = _ENVELOPE_SHAPES.get(name) or _type_schema(hints[name])
        properties[name] = {**shape, "description": ENVELOPE_NOTES[name]}
    required = list(properties)
    hints = get_type_hints(cls)
    for event_field in fields(cls):  # type: ignore[arg-type]  # every event is a dataclass
        name = event_field.name
        properties[name] = dict(UOM) if name == "uom" else _type_schema(hints[name])
        if not event_field.metadata.get(_SPARSE_KEY):
            required.append(event_field.name)
    properties[REPLAYED] = {"const": True, "description": "a re-send after an outage"}
    properties |= _PART_KEYS
    return {
        "$schema": DIALECT,
        "$id": f"{ID_BASE}event/{cls.TYPE}:{EVENT_SCHEMA}",
        "title": f"{cls.TYPE} event",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_PART_KEYS: dict[str, Any] = {
    "part_index": {"type": "integer", "minimum": 0,
                   "description": "a large event sent in parts: this part's place, from 0"},
    "part_count": {"type": "integer", "minimum": 2, "description": "how many parts there are"},
    "part_field": {"type": "string",
                   "description": "the list this part holds a slice of; the rest is repeated"},
}  # fmt: skip


def stock_schema() -> dict[str, Any]:
    """The retained ``stock/{part}`` message (see :mod:`edge.domain.stock_message`)."""
    nullable_quantity = {"anyOf": [dict(QUANTITY), {"type": "null"}]}
    card_ids = {"type": "array", "items": {"type": "string"}}
    properties: dict[str, Any] = {
        "schema": {"const": EVENT_SCHEMA, "description": "the payload's version"},
        "part": {"type": "string"},
        "on_hand": dict(QUANTITY),
        "on_order": dict(QUANTITY),
        "position": {**QUANTITY, "description": "on hand plus on order"},
        "reorder_point": nullable_quantity,
        "uom": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "replenishment": {
            "anyOf": [{"enum": [kind.value for kind in Replenishment]}, {"type": "null"}],
            "description": "reorder: reorder events; kanban: refilled by its cards",
        },
        "last_counted_at": {
            "anyOf": [TIMESTAMP, {"type": "null"}],
            "description": "when the part was last counted; null if never",
        },
        "last_counted": {**nullable_quantity, "description": "what that count found"},
        "consumed_since_count": {
            **QUANTITY,
            "description": "backflush, scrap and issue since the last count (or ever)",
        },
        "average_daily_use": {
            **QUANTITY,
            "description": "backflush, scrap and issue over today and the 13 days before, / 14",
        },
        "days_of_cover": {
            **nullable_quantity,
            "description": "on hand / average daily use; null when nothing was used",
        },
        "cards": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"full": card_ids, "empty": card_ids},
                    "required": ["full", "empty"],
                    "additionalProperties": False,
                },
                {"type": "null"},
            ],
            "description": "a kanban part's card ids by state; null for a reorder part",
        },
        "updated_at": TIMESTAMP,
    }
    return {
        "$schema": DIALECT,
        "$id": f"{ID_BASE}stock:{EVENT_SCHEMA}",
        "title": "stock state of a part (retained)",
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def status_schema() -> dict[str, Any]:
    """The retained ``status`` message and Last Will (see :mod:`edge.publish.status`)."""
    count = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}
    return {
        "$schema": DIALECT,
        "$id": f"{ID_BASE}status:{EVENT_SCHEMA}",
        "title": "the node's status (retained; offline is also its Last Will)",
        "type": "object",
        "properties": {
            "state": {"enum": ["online", "offline"]},
            "boot": {"type": "integer"},
            "version": {"type": "string"},
            "site": {"type": "string"},
            "node": {"type": "string"},
            "at": TIMESTAMP,
            "clock_synced": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
            "backlog": {**count, "description": "events not yet acknowledged by the broker"},
            "set_aside": {**count, "description": "events the broker refused, retried later"},
            "outbox_full": {"type": "boolean"},
            "reason": {"type": "string", "description": "why offline: shutdown, or lost"},
        },
        "required": [
            *("state", "boot", "version", "site", "node", "at", "clock_synced"),
            *("backlog", "set_aside", "outbox_full"),
        ],
        "additionalProperties": True,
    }


def published_schemas() -> dict[str, dict[str, Any]]:
    """Every schema of what the node publishes, by name."""
    schemas = {f"event/{name}": event_schema(cls) for name, cls in EVENT_TYPES.items()}
    schemas["stock"] = stock_schema()
    schemas["status"] = status_schema()
    return schemas
