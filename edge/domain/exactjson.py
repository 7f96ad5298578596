"""JSON with exact decimal numbers.

The standard ``json`` module can read decimals exactly (``parse_float``) but
can only write them as strings or as floats. Events carry quantities as JSON
numbers written from the exact decimal, so this small encoder writes them
itself; everything else is delegated to ``json`` for correct string escaping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from edge.domain.quantity import format_quantity

JsonValue = Any


class Fragment(str):
    """Text that is already JSON, written as it is (a remembered part of a payload)."""

    __slots__ = ()


def dumps(value: JsonValue, *, sort_keys: bool = False) -> str:
    """Compact JSON; ``Decimal`` values become number literals."""
    parts: list[str] = []
    _encode(value, parts, sort_keys)
    return "".join(parts)


def loads(text: str | bytes) -> JsonValue:
    """Parse JSON reading every non-integer number as an exact ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


# What json.dumps(text, ensure_ascii=False) writes, without building an encoder per call.
_string = json.encoder.encode_basestring


# Keys' texts (``"key":``), remembered for the names the program writes; a bound on how
# many, as keys can come from input too.
_NAMES: dict[Any, str] = {}
_NAMES_KEPT = 1024


def _name(key: Any) -> str:
    text = f"{_string(str(key))}:"
    if type(key) is str and len(_NAMES) < _NAMES_KEPT:  # not 1 for True: equal keys
        _NAMES[key] = text
    return text


def _encode(value: JsonValue, out: list[str], sort_keys: bool) -> None:
    # Dispatch on the exact type first: an event of a 50-component backflush
    # holds some 150 values, and this runs once per event inside the commit.
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif kind is Fragment:
        out.append(value)
    elif kind is Decimal:
        out.append(format_quantity(value))
    elif kind is int:  # not bool: type(True) is bool
        out.append(int.__repr__(value))
    elif value is None:
        out.append("null")
    elif kind is dict and not sort_keys:
        # Members of the common types are written here without a call, each key's
        # text remembered: an event's keys are the same names every time.
        members: list[str] = []
        for key, item in value.items():
            name = _NAMES.get(key) or _name(key)
            member = type(item)
            if member is str:
                members.append(name + _string(item))
            elif member is Decimal:
                members.append(name + format_quantity(item))
            elif member is int:
                members.append(name + int.__repr__(item))
            elif item is None:
                members.append(name + "null")
            elif member is Fragment:
                members.append(name + item)
            else:
                inner: list[str] = []
                _encode(item, inner, sort_keys)
                members.append(name + "".join(inner))
        out.append("{" + ",".join(members) + "}")
    elif kind is list or kind is tuple:
        out.append("[")
        separator = ""
        for item in value:
            out.append(separator)
            separator = ","
            _encode(item, out, sort_keys)
        out.append("]")
    else:
        _encode_other(value, out, sort_keys)


def _encode_other(value: JsonValue, out: list[str], sort_keys: bool) -> None:
    if isinstance(value, Fragment):
        out.append(value)
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Decimal):
        out.append(format_quantity(value))
    elif value is None or isinstance(value, bool | int):
        out.append(json.dumps(value))
    elif isinstance(value, Mapping):
        out.append("{")
        items = sorted(value.items()) if sort_keys else list(value.items())
        for index, (key, item) in enumerate(items):
            if index:
                out.append(",")
            out.append(_string(str(key)))
            out.append(":")
            _encode(item, out, sort_keys)
        out.append("}")
    elif isinstance(value, tuple) and hasattr(type(value), "_fields"):
        # A named tuple would go out as a bare array, its names lost: a payload's shape
        # would change with a type's implementation. Its fields are written explicitly.
        raise TypeError(f"cannot encode the named tuple {type(value).__name__} as JSON")
    elif isinstance(value, Sequence):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, sort_keys)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")
