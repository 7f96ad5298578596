"""Every payload a test broker carries, checked against the published JSON Schemas.

``check_published(topic, payload)`` picks the schema by the topic's last
levels (``.../event/<type>``, ``.../stock/<part>``, ``.../status``) and raises
with the schema's complaint when the payload does not match.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from edge.contract.schemas import published_schemas
from edge.domain import exactjson


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        published_schemas()[name], format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def schema_name(topic: str) -> str | None:
    """The schema a topic's payloads follow; None for a topic the node does not publish."""
    levels = topic.split("/")
    if len(levels) >= 2 and levels[-2] == "event":
        return f"event/{levels[-1]}"
    if len(levels) >= 2 and levels[-2] == "stock":
        return "stock"
    if levels[-1] == "status":
        return "status"
    return None


def check_published(topic: str, payload: Any) -> None:
    name = schema_name(topic)
    if name is None:
        return
    errors = sorted(validator(name).iter_errors(payload), key=lambda error: error.json_path)
    if errors:
        problems = "; ".join(f"{error.json_path}: {error.message}" for error in errors[:5])
        raise AssertionError(f"{topic}: the payload does not follow {name}: {problems}")


# --- what the test brokers carried ------------------------------------------------------
_lock = threading.Lock()
_violations: list[str] = []


def record(topic: str, payload: bytes) -> None:
    """Check one message a test subscriber received; a mismatch is kept for the test's end."""
    if schema_name(topic) is None:
        return
    try:
        parsed = exactjson.loads(payload)
    except ValueError:
        problem = f"{topic}: not JSON: {payload[:80]!r}"
    else:
        try:
            check_published(topic, parsed)
        except AssertionError as error:
            problem = str(error)
        else:
            return
    with _lock:
        _violations.append(problem)


def take_violations() -> list[str]:
    with _lock:
        found = list(_violations)
        _violations.clear()
    return found
