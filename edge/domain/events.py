"""The payloads of the events the node publishes."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

from edge.domain import exactjson


def lines_payload(lines: Sequence[tuple[str, Decimal]]) -> exactjson.Fragment:
    """An event's ``lines``: ``[{"part": ..., "quantity": ...}, ...]``, already as JSON.

    A station ships the same product over and over, so the same lines come
    back scan after scan; rendering fifty of them with exact decimals was a
    fifth of a scan's CPU. Equal quantities render the same canonical text, so
    a remembered rendering is exact.
    """
    return _lines_json(tuple(lines))


@lru_cache(maxsize=256)
def _lines_json(lines: tuple[tuple[str, Decimal], ...]) -> exactjson.Fragment:
    return exactjson.Fragment(
        exactjson.dumps([{"part": part, "quantity": quantity} for part, quantity in lines])
    )
