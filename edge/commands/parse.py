"""A command payload validated into a typed command, or every error with its JSON path.

Pure: no I/O. What is checked here is the shape a central system controls:
size, JSON syntax, the envelope (``command_id``, ``type``,
``if_catalog_version``), each type's fields, their JSON types, exact
quantities (SPEC §3) and that no unknown field is present. What needs the
database (does the part exist, is the reorder open) is the domain's, in
:mod:`edge.commands.apply`; the rows of a master-data command are checked by
the master-data apply path, which gives its own JSON paths.

Numbers are read exactly: a JSON integer stays an ``int``, any other number
keeps its literal text (:class:`NumberText`), so ``1e3`` and ``0.1234567``
are refused, never rounded. A quantity is a JSON integer, a number literal or
a string matching ``-?[0-9]+(\\.[0-9]{1,6})?``; a boolean never is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from edge.commands.names import COMMAND_TYPES
from edge.domain.model import PartError, validate_part
from edge.domain.quantity import QuantityError, parse_quantity
from edge.domain.timestamps import TimeError, given_time

_HEX = "[0-9a-fA-F]"
_UUID: Final = re.compile(f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")
MAX_TEXT_LENGTH: Final = 64  # references, card ids


@dataclass(frozen=True, slots=True)
class CommandError:
    """One problem, at a JSON path of the payload (``$`` is the whole payload)."""

    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class NumberText(str):
    """A JSON number that is not an integer, as written (read exactly, or refused)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Command:
    """A valid command: the envelope and its type's fields (already checked)."""

    command_id: str  # lower-case UUID
    type: str
    if_catalog_version: int | None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Refused:
    """A command that cannot be applied; ``command_id``/``type`` when they could be read."""

    command_id: str | None
    type: str | None
    errors: tuple[CommandError, ...]


class _Invalid(ValueError):
    pass


# --- the field types -------------------------------------------------------------------


def _text(value: Any) -> str:
    if type(value) is not str:
        raise _Invalid(f"must be a string, got {_json_type(value)}")
    text = value.strip()
    if not text or len(text) > MAX_TEXT_LENGTH or not text.isprintable():
        raise _Invalid(f"must be 1 to {MAX_TEXT_LENGTH} printable characters")
    return text


def _part(value: Any) -> str:
    if type(value) is not str:
        raise _Invalid(f"must be a part number (a string), got {_json_type(value)}")
    try:
        return validate_part(value)
    except PartError as error:
        raise _Invalid(str(error)) from None


def quantity(value: Any) -> Decimal:
    """A JSON quantity as an exact decimal (see the module docstring); raises ValueError."""
    if type(value) is int or type(value) in (str, NumberText):
        text = str(value)
    else:
        raise _Invalid(f"must be a quantity (a number or a string), got {_json_type(value)}")
    try:
        return parse_quantity(text)
    except QuantityError as error:
        raise _Invalid(str(error)) from None


def _timestamp(value: Any) -> datetime:
    """An RFC 3339 time with its offset, e.g. 2026-12-02T06:00:00Z, as UTC."""
    if type(value) is not str:
        raise _Invalid(f"must be an RFC 3339 time (a string), got {_json_type(value)}")
    try:
        return given_time(value)
    except TimeError as error:
        raise _Invalid(str(error)) from None


def _identifier(value: Any) -> int:
    if type(value) is not int or value < 1 or value > 2**63 - 1:
        raise _Invalid(f"must be a positive integer, got {_json_type(value)}")
    return value


def _rows(value: Any) -> list[Any]:
    if type(value) is not list:
        raise _Invalid(f"must be an array, got {_json_type(value)}")
    if not value:
        raise _Invalid("must not be empty")
    return value


@dataclass(frozen=True, slots=True)
class FieldType:
    """How one command field is read, and the JSON Schema saying the same (the contract)."""

    read: Callable[[Any], Any]
    schema: Mapping[str, Any]


_QUANTITY_TEXT = r"^-?[0-9]+(\.[0-9]{1,6})?$"
PART = FieldType(_part, {"type": "string", "minLength": 1, "maxLength": 64})
QUANTITY = FieldType(
    quantity,
    {
        "anyOf": [{"type": "number"}, {"type": "string", "pattern": _QUANTITY_TEXT}],
        "description": 'an exact decimal, at most 6 places, no exponent: 12, 2.5 or "2.5"',
    },
)
IDENTIFIER = FieldType(_identifier, {"type": "integer", "minimum": 1})
TIMESTAMP = FieldType(_timestamp, {"type": "string", "format": "date-time"})
TEXT = FieldType(_text, {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH})
ROWS = FieldType(_rows, {"type": "array", "minItems": 1, "items": {"type": "object"}})


# Each type's fields: name -> (required, type). The envelope's keys are added to each.
COMMAND_FIELDS: Final[Mapping[str, Mapping[str, tuple[bool, FieldType]]]] = {
    "items.upsert": {"items": (True, ROWS)},  # rows as in items.csv
    "bom.replace": {"parents": (True, ROWS)},  # {"parent": P, "lines": [...]}
    "cards.upsert": {"cards": (True, ROWS)},
    "stock.receive": {
        "part": (True, PART),
        "quantity": (True, QUANTITY),
        "reorder_id": (False, IDENTIFIER),
        "card": (False, PART),  # a kanban card's id: its refill (part and quantity its own)
        "reference": (False, TEXT),
    },
    "stock.count": {
        "part": (True, PART),
        "counted": (True, QUANTITY),
        "counted_at": (False, TIMESTAMP),
    },
    "reorder.ack": {"reorder_id": (True, IDENTIFIER), "reference": (True, TEXT)},
    "reorder.cancel": {"reorder_id": (True, IDENTIFIER)},
    "republish": {},
}
_ENVELOPE: Final = ("command_id", "type", "if_catalog_version")
assert set(COMMAND_FIELDS) == set(COMMAND_TYPES), "every command type has its fields here"


# --- reading a payload -----------------------------------------------------------------


def parse_command(
    payload: bytes,
    topic_type: str,
    *,
    max_bytes: int,
    allowed: tuple[str, ...],
) -> Command | Refused:
    """The command in ``payload``, received on the topic of ``topic_type``, or why not.

    Never raises: anything wrong with the payload is a :class:`Refused`.
    """
    if len(payload) > max_bytes:
        message = f"the payload is {len(payload)} bytes, more than commands.max_bytes ({max_bytes})"
        return Refused(None, _known_type(topic_type), (CommandError("$", message),))
    try:
        document = _loads(payload)
    except _Invalid as error:
        return Refused(None, _known_type(topic_type), (CommandError("$", str(error)),))
    if type(document) is not dict:
        what = f"a command is a JSON object, got {_json_type(document)}"
        return Refused(None, _known_type(topic_type), (CommandError("$", what),))
    errors: list[CommandError] = []
    command_id = _command_id(document, errors)
    command_type = _command_type(document, topic_type, errors)
    if command_type is None:
        return Refused(command_id, _known_type(topic_type), tuple(errors))
    if command_type not in allowed:
        errors.append(
            CommandError("$.type", f"{command_type} is not allowed here (commands.allow)")
        )
    catalog_version = document.get("if_catalog_version")
    if catalog_version is not None and (type(catalog_version) is not int or catalog_version < 0):
        errors.append(
            CommandError("$.if_catalog_version", "must be a catalog version (an integer >= 0)")
        )
        catalog_version = None
    spec = COMMAND_FIELDS[command_type]
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key in _ENVELOPE:
            continue
        path = _path(key)
        if key not in spec:
            known = ", ".join([*_ENVELOPE, *spec])
            errors.append(CommandError(path, f"unknown field for {command_type} (known: {known})"))
            continue
        try:
            values[key] = spec[key][1].read(value)
        except _Invalid as error:
            errors.append(CommandError(path, str(error)))
    for key, (required, _) in spec.items():
        if required and key not in document:
            errors.append(CommandError(_path(key), "required"))
    if errors or command_id is None:
        return Refused(command_id, command_type, tuple(errors))
    return Command(command_id, command_type, catalog_version, values)


def _loads(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Invalid(f"not UTF-8 text (byte {error.start})") from None
    try:
        return json.loads(
            text,
            parse_float=NumberText,
            parse_constant=_no_constant,
            object_pairs_hook=_object,
        )
    except _Invalid:
        raise
    except ValueError as error:  # JSONDecodeError, and integers too long to read
        raise _Invalid(f"not JSON: {error}") from None
    except RecursionError:
        raise _Invalid("not JSON this product reads: nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise _Invalid(f"not JSON: {name} is not a number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Invalid(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _command_id(document: Mapping[str, Any], errors: list[CommandError]) -> str | None:
    value = document.get("command_id")
    if value is None:
        errors.append(CommandError("$.command_id", "required (a UUID)"))
        return None
    if type(value) is not str or not _UUID.fullmatch(value):
        errors.append(CommandError("$.command_id", "must be a UUID such as "
                                   "0f1e2d3c-4b5a-4968-8776-655443322110"))  # fmt: skip
        return None
    return value.lower()


def _command_type(
    document: Mapping[str, Any], topic_type: str, errors: list[CommandError]
) -> str | None:
    if topic_type not in COMMAND_TYPES:
        errors.append(CommandError("$", f"unknown command type {topic_type!r} in the topic "
                                   f"(known: {', '.join(COMMAND_TYPES)})"))  # fmt: skip
        return None
    value = document.get("type")
    if value is None:
        errors.append(CommandError("$.type", f"required ({topic_type!r}, as in the topic)"))
        return None
    if value != topic_type:
        errors.append(CommandError("$.type", f"is {_show(value)}, but the topic says "
                                   f"{topic_type!r}"))  # fmt: skip
        return None
    return topic_type


def _known_type(topic_type: str) -> str | None:
    return topic_type if topic_type in COMMAND_TYPES else None


def _path(key: str) -> str:
    """``$.name``, or ``$['odd key']`` for a key that is not a plain name."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"$.{key}"
    return f"$[{json.dumps(key)}]"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if type(value) is int or type(value) is NumberText:
        return f"the number {value}"
    if type(value) is str:
        return f"the string {_show(value)}"
    if type(value) is list:
        return "an array"
    return "an object"


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
