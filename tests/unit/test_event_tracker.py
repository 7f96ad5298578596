"""The reference consumer's bookkeeping: duplicates, gaps, late events, restores, parts."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.tail.consumer import Duplicate, EventTracker, Gap, Restored, Seen

STREAM = "0192c1d0-0000-7000-8000-000000000001"


def event(seq: int, *, node: str = "line-1", stream: str = STREAM, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"{node}-{stream}-{seq}", "type": "backflush", "stream": stream,
            "seq": seq, "node": node, **fields}  # fmt: skip


def kinds(found: list[Any]) -> list[str]:
    return [type(item).__name__ for item in found]


def test_a_repeat_is_a_duplicate_and_a_new_event_is_seen_once() -> None:
    tracker = EventTracker()
    assert kinds(tracker.feed(event(1))) == ["Seen"]
    assert kinds(tracker.feed(event(1))) == ["Duplicate"]
    assert kinds(tracker.feed(event(2))) == ["Seen"]
    assert tracker.open_gaps == 0


def test_a_jump_is_a_gap_and_the_late_event_fills_it() -> None:
    tracker = EventTracker()
    tracker.feed(event(1))
    found = tracker.feed(event(5))
    assert found[0] == Gap("line-1", STREAM, 2, 4)
    assert found[1] == Seen(event(5))
    assert tracker.open_gaps == 3
    late = tracker.feed(event(3))
    assert late == [Seen(event(3), filled=True)]
    assert tracker.open_gaps == 2


def test_the_events_before_the_first_one_met_are_no_gap() -> None:
    tracker = EventTracker()
    assert kinds(tracker.feed(event(40))) == ["Seen"]
    assert kinds(tracker.feed(event(12))) == ["Seen"]  # older, never reported missing
    assert kinds(tracker.feed(event(1, stream="other"))) == ["Seen"]
    assert kinds(tracker.feed(event(3, stream="other"))) == ["Gap", "Seen"]
    assert tracker.open_gaps == 1


def test_nodes_and_streams_are_tracked_apart() -> None:
    tracker = EventTracker()
    tracker.feed(event(1, node="a"))
    tracker.feed(event(1, node="b"))
    assert kinds(tracker.feed(event(2, node="b"))) == ["Seen"]
    assert kinds(tracker.feed(event(3, node="a"))) == ["Gap", "Seen"]


def test_a_restore_names_where_the_old_stream_was_cut() -> None:
    tracker = EventTracker()
    tracker.feed(event(7))
    restored = event(1, stream="new", type="restored", previous_stream=STREAM,
                     previous_last_seq=5)  # fmt: skip
    found = tracker.feed(restored)
    assert found == [Restored("line-1", STREAM, 5, "new"), Seen(restored)]


def test_parts_are_reassembled_in_order_whatever_order_they_arrive_in() -> None:
    tracker = EventTracker()
    base = event(9, part="FG-1")
    lines = [{"part": f"C-{i}", "quantity": i} for i in range(5)]
    parts = [
        {**base, "part_index": index, "part_count": 3, "part_field": "lines",
         "lines": lines[start:end]}
        for index, (start, end) in enumerate([(0, 2), (2, 3), (3, 5)])
    ]  # fmt: skip
    assert tracker.feed(parts[2]) == []
    assert tracker.feed(parts[0]) == []
    [whole] = tracker.feed(parts[1])
    assert whole == Seen({**base, "lines": lines})
    assert isinstance(tracker.feed(parts[1])[0], Duplicate)


def test_remembered_ids_are_bounded() -> None:
    tracker = EventTracker(remembered=3)
    for seq in range(1, 6):
        tracker.feed(event(seq))
    assert kinds(tracker.feed(event(5))) == ["Duplicate"]
    assert kinds(tracker.feed(event(1))) == ["Seen"]  # forgotten: seen again, no gap


@given(st.lists(st.integers(1, 30), max_size=80))
def test_every_event_is_seen_once_and_gaps_are_what_never_arrived(seqs: list[int]) -> None:
    tracker = EventTracker()
    found = [item for seq in seqs for item in tracker.feed(event(seq))]
    seen = [item.payload["seq"] for item in found if isinstance(item, Seen)]
    assert sorted(seen) == sorted(set(seqs))
    if seqs:
        # Missing: what lies between the first seq met and the highest, never arrived.
        expected = set(range(seqs[0] + 1, max(seqs) + 1)) - set(seqs)
        assert tracker.open_gaps == len(expected)
