"""Event ids: version 7 UUIDs whose first 48 bits are the event's time in milliseconds."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

from edge.domain.ids import event_id

AT = datetime(2026, 12, 2, 4, 15, 0, 123_000, tzinfo=UTC)


def test_an_event_id_is_a_version_7_uuid_carrying_its_time() -> None:
    text = event_id(AT)
    parsed = uuid.UUID(text)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert parsed.int >> 80 == int(AT.timestamp() * 1000)
    assert text == str(parsed)  # the canonical spelling: lower case, 8-4-4-4-12


def test_ids_sort_by_time_and_never_repeat() -> None:
    later = AT + timedelta(milliseconds=1)
    same_ms = {event_id(AT) for _ in range(50_000)}
    assert len(same_ms) == 50_000
    assert max(same_ms) < event_id(later)


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write_end, event_id(AT).encode())
        os._exit(0)
    os.close(write_end)
    ours = event_id(AT)
    with os.fdopen(read_end, "rb") as pipe:
        theirs = pipe.read().decode()
    os.waitpid(child, 0)
    assert uuid.UUID(theirs).version == 7
    assert theirs != ours
