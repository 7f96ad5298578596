"""How an event class's fields are written to a payload and read back.

The shape of each payload follows from the declared field types (see
:mod:`edge.domain.events`); this module learns it once per class.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, get_type_hints

from edge.domain import exactjson
from edge.domain.quantity import format_quantity

_SPARSE = "written-only-when-true"  # the metadata key of ONLY_WHEN_TRUE
ONLY_WHEN_TRUE: Mapping[str, bool] = MappingProxyType({_SPARSE: True})
"""Field metadata: the key appears in the payload only when the value is true."""

_ADDED = "added-after-schema-1"  # the metadata key of ADDED_IN_2 and ADDED_IN_3
ADDED_IN_2: Mapping[str, bool] = MappingProxyType({_ADDED: True})
ADDED_IN_3: Mapping[str, bool] = MappingProxyType({_ADDED: True})
"""Field metadata: absent from payloads of an older schema, read back from them as None.

The outbox keeps events for days and ``edge events`` reads them back, so a
database upgraded in place still holds payloads written before the field was.
"""

UomLines = tuple[tuple[str, Decimal, str | None], ...]
"""(part, quantity, uom) per line: ``[{"part": ..., "quantity": ..., "uom": ...}, ...]``."""


CommandErrors = tuple[Mapping[str, str], ...]
"""A command result's ``errors``: ``[{"path": ..., "message": ...}, ...]``."""


PartBalances = tuple[tuple[str, Decimal, str], ...]
"""(part, on_hand, uom) of many parts: ``[{"part": ..., "on_hand": ..., "uom": ...}, ...]``."""


class UnreadableEvent(ValueError):
    """A payload that is not one of the events in :data:`EVENT_TYPES`."""


def lines_payload(lines: Sequence[tuple[str, Decimal, str | None]]) -> exactjson.Fragment:
    """An event's ``lines``: ``[{"part": ..., "quantity": ..., "uom": ...}, ...]``, as JSON.

    A station ships the same product over and over, so the same lines come
    back scan after scan; rendering fifty of them with exact decimals was a
    fifth of a scan's CPU. Equal quantities render the same canonical text, so
    a remembered rendering is exact.
    """
    return _lines_json(tuple(lines))


@lru_cache(maxsize=256)
def _lines_json(lines: UomLines) -> exactjson.Fragment:
    return exactjson.Fragment(
        exactjson.dumps(
            [{"part": part, "quantity": quantity, "uom": uom} for part, quantity, uom in lines]
        )
    )


# --- how each declared type is written and read ----------------------------------


def _as_decimal(value: Any) -> Any:
    # JSON gives integers for whole quantities; Decimal(int) is exact.
    return Decimal(value) if type(value) is int else value


def _read_lines(value: Any) -> UomLines:
    # Lines of schema "1" have no uom.
    return tuple((line["part"], _as_decimal(line["quantity"]), line.get("uom")) for line in value)


_json_string = json.encoder.encode_basestring  # what exactjson writes for a str


def _write_balances(balances: PartBalances) -> exactjson.Fragment:
    # Written straight to JSON text: an opening of 50,000 parts renders them all
    # inside its transaction, and a dict per part first cost three times as much.
    members = ",".join(
        f'{{"part":{_json_string(part)},"on_hand":{format_quantity(on_hand)},'
        f'"uom":{_json_string(uom)}}}'
        for part, on_hand, uom in balances
    )
    return exactjson.Fragment(f"[{members}]")


def _read_balances(value: Any) -> PartBalances:
    return tuple((row["part"], _as_decimal(row["on_hand"]), row["uom"]) for row in value)


_ENCODERS: dict[Any, Callable[[Any], Any]] = {
    UomLines: lines_payload,
    PartBalances: _write_balances,
    tuple[int, ...]: list,
}
_DECODERS: dict[Any, Callable[[Any], Any]] = {
    Decimal: _as_decimal,
    Decimal | None: _as_decimal,
    UomLines: _read_lines,
    tuple[int, ...]: tuple,
    PartBalances: _read_balances,
    CommandErrors: tuple,
}


class _Layout:
    """How one event class's fields are written to a payload and read back, found once."""

    __slots__ = ("_added", "_decoded", "_encoded", "_names", "_only_when_true", "_values")

    def __init__(self, cls: type[Any]) -> None:  # an Event subclass, always a dataclass
        hints = get_type_hints(cls)
        declared = fields(cls)
        self._names = tuple(f.name for f in declared)
        getter = operator.attrgetter(*self._names)
        # attrgetter of one name gives the value itself, not a 1-tuple.
        self._values: Callable[[Any], tuple[Any, ...]] = (
            getter if len(self._names) > 1 else lambda event: (getter(event),)
        )
        self._encoded = tuple(
            (f.name, _ENCODERS[hints[f.name]]) for f in declared if hints[f.name] in _ENCODERS
        )
        self._decoded = tuple(
            (f.name, _DECODERS[hints[f.name]]) for f in declared if hints[f.name] in _DECODERS
        )
        self._only_when_true = tuple(f.name for f in declared if f.metadata.get(_SPARSE))
        self._added = frozenset(f.name for f in declared if f.metadata.get(_ADDED))

    def write(self, event: Any, payload: dict[str, Any]) -> None:
        # In declared order first; replacing or deleting a key keeps the others' order.
        payload.update(zip(self._names, self._values(event), strict=True))
        for name, encode in self._encoded:
            payload[name] = encode(payload[name])
        for name in self._only_when_true:
            if not payload[name]:
                del payload[name]

    def read(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor's arguments, from a payload this layout wrote."""
        values: dict[str, Any] = {}
        for name in self._names:
            if name in payload:
                values[name] = payload[name]
            elif name in self._added:
                values[name] = None
            elif name not in self._only_when_true:
                raise UnreadableEvent(f"a {payload.get('type')} payload without {name!r}")
        for name, decode in self._decoded:
            if name in values:
                values[name] = decode(values[name])
        return values


# Learnt on first use, not at import: the command line imports this module for
# every command, and most never write or read an event.
_LAYOUTS: dict[type[Any], _Layout] = {}


def layout_of(cls: type[Any]) -> _Layout:
    """The layout of an event class, learnt on its first use."""
    found = _LAYOUTS.get(cls)
    if found is None:
        found = _LAYOUTS[cls] = _Layout(cls)
    return found
