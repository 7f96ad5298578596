"""Typed events: one class per type, the one renderer, reading a payload back, the
one-line summary and the replayed flag."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.domain import event_layout, events, exactjson, payloads
from edge.domain.event_layout import UnreadableEvent

D = Decimal
ENVELOPE = events.Envelope(
    "0b0e8d6e-1c57-4d0c-9a53-6f3f4f1c2a10",
    occurred_at="2026-03-02T06:00:02.500Z",
    stream="7c4d3a52-9e0f-4b8e-a1d2-5f6e7a8b9c0d",
    seq=17,
    boot=3,
    site="plant-1",
    node="pack-edge-01",
)
LINES: event_layout.UomLines = (
    ("R-GASKET", D("0.55"), "m"), ("R-SCREW", D(4), "EA"), ("SUB-200", D(1), "EA")
)  # fmt: skip
SCAN = ("PACK-1", "pack-1-hid", 12)
BOM_HASH = "9f" * 32
ORIGIN = ("station", "scanner", "scan_id")

KANBAN_EMPTY = events.KanbanEmptyEvent(
    "KB-SCREW-A", "R-SCREW", D(100), "EA", "rack 3", consumed=D(92),
    since="2026-03-02T06:00:00.000Z", reconciliation=D(-8), adjusted=True, on_hand=D(100),
    station="PACK-1", scanner="pack-1-hid", scan_id=14,
)  # fmt: skip
KANBAN_EMPTY_KEYS = (
    "card", "part", "container_qty", "uom", "location", "consumed", "since", "reconciliation",
    "adjusted", "on_hand", *ORIGIN,
)  # fmt: skip
VARIANCE = events.VarianceEvent(
    "R-GASKET", D(180), book=D(200), variance=D(-20), uom="EA", consumed=D(200),
    consumed_backflush=D(200), consumed_scrap=D(0), consumed_issue=D(0),
    consumed_through_bom=D(200), variance_pct=D("-10.00"), tolerance_pct=D(5),
    counted_at="2026-03-02T14:00:00.000Z", previous_counted_at=None,
)  # fmt: skip
VARIANCE_KEYS = (
    "part", "counted", "book", "variance", "uom", "consumed", "consumed_backflush",
    "consumed_scrap", "consumed_issue", "consumed_through_bom", "variance_pct", "tolerance_pct",
    "counted_at", "previous_counted_at",
)  # fmt: skip

# One of each type, with the payload keys each carries, in order, after the envelope.
SAMPLES: list[tuple[events.Event, tuple[str, ...]]] = [
    (
        events.BackflushEvent("FG-100", D(41), "EA", LINES, BOM_HASH, *SCAN),
        ("part", "quantity", "uom", "lines", "bom_hash", *ORIGIN),
    ),
    (
        events.ScrapEvent("KIT-1", D(1), "EA", LINES[:2], BOM_HASH, *SCAN, reason="DAMAGED"),
        ("part", "quantity", "uom", "lines", "bom_hash", *ORIGIN, "reason"),
    ),
    (
        events.BuildEvent("SUB-200", D("2.5"), None, LINES[1:], BOM_HASH, None, None, None),
        ("part", "quantity", "uom", "lines", "bom_hash", *ORIGIN),
    ),
    (
        events.VoidEvent(
            voided_event_id="5e1c2a10-0b0e-4d0c-9a53-8d6e6f3f4f1c",
            voided_type="backflush",
            part="R-GASKET",
            quantity=D(1),
            uom="m",
            lines=(("R-GASKET", D(1), "m"),),
            station="PACK-1",
            scanner="cli",
            scan_id=9,
        ),
        ("voided_event_id", "voided_type", "part", "quantity", "uom", "lines", *ORIGIN),
    ),
    (
        events.ReceiptEvent("R-HOUSING", D(25), "EA", 1, (1,), on_hand=D(34), on_order=D(0)),
        ("part", "quantity", "uom", "reorder_id", "reorder_ids", "on_hand", "on_order", "card"),
    ),
    (
        events.CountEvent(
            "R-SCREW", D(800), previous_on_hand=D("833.5"), variance=D("-33.5"), uom="EA"
        ),
        ("part", "counted", "previous_on_hand", "variance", "uom"),
    ),
    (
        events.LowStockEvent("SUB-200", D(-21), D(2), negative=True, uom="EA"),
        ("part", "on_hand", "reorder_point", "negative", "uom"),
    ),
    (
        events.ReorderEvent(
            2,
            "R-SCREW",
            D(35700),
            on_hand=D(-35200),
            on_order=D(0),
            reorder_point=None,
            uom="EA",
        ),
        ("reorder_id", "part", "quantity", "on_hand", "on_order", "reorder_point", "uom"),
    ),
    (
        events.ReorderClosedEvent(1, "R-HOUSING", "received"),
        ("reorder_id", "part", "reason"),
    ),
    (
        events.ScanRejectedEvent(13, '\\xff"é' + "x" * 60, "invalid-utf8", "PACK-1", "pack-1-hid"),
        ("scan_id", "code", "reason", "station", "scanner"),
    ),
    (
        events.RestoredEvent("5e1c2a10-0b0e-4d0c-9a53-8d6e6f3f4f1c", 31, None, None),
        ("previous_stream", "previous_last_seq", "replaced_stream", "replaced_last_seq"),
    ),
    (
        events.OpeningBalancesEvent(1, 2, (("R-SCREW", D(800), "EA"), ("R-GASKET", D("0.5"), "M"))),
        ("batch", "batches", "parts"),
    ),
    (
        events.CommandResultEvent(
            "0f1e2d3c-4b5a-4968-8776-655443322110",
            "stock.receive",
            "rejected",
            ({"path": "$.quantity", "message": "'1e3' is not a quantity"},),
            catalog_version=4,
        ),
        ("command_id", "command_type", "status", "errors", "catalog_version"),
    ),
    (
        events.IssueEvent("KIT-1", D(2), "EA", LINES[:2], BOM_HASH, *SCAN, reason="TEST"),
        ("part", "quantity", "uom", "lines", "bom_hash", *ORIGIN, "reason"),
    ),
    (KANBAN_EMPTY, KANBAN_EMPTY_KEYS),
    (VARIANCE, VARIANCE_KEYS),
]
OPENING = events.CountEvent(
    "R-WIRE", D(0), previous_on_hand=D(0), variance=D(0), uom="EA", opening=True
)  # fmt: skip
ENVELOPE_KEYS = (
    "event_id", "type", "schema", "occurred_at", "stream", "seq", "boot", "site", "node"
)  # fmt: skip


def stored(event: events.Event) -> dict[str, Any]:
    """The payload as the outbox stores it and a reader gets it back."""
    return exactjson.loads(exactjson.dumps(payloads.render(ENVELOPE, event)))


# --- the declarations ---------------------------------------------------------------


def test_the_registry_holds_every_type_of_the_contract_once() -> None:
    assert list(events.EVENT_TYPES) == [
        "backflush", "scrap", "build", "issue", "void", "receipt", "count",
        "low-stock", "reorder", "reorder-closed", "scan-rejected", "restored",
        "opening-balances",
        "command-result", "kanban-empty", "variance",
    ]  # fmt: skip
    assert {type(event) for event, _ in SAMPLES} == set(events.EVENT_TYPES.values())
    for event_type, cls in events.EVENT_TYPES.items():
        assert event_type == cls.TYPE


@pytest.mark.parametrize("cls", events.EVENT_TYPES.values())
def test_every_field_has_a_type_the_renderer_knows(cls: type) -> None:
    known = {str, bool, int, Decimal, str | None, int | None, Decimal | None}
    known.add(event_layout.UomLines)
    known.add(tuple[int, ...])
    known.add(event_layout.PartBalances)
    known.add(event_layout.CommandErrors)
    hints = get_type_hints(cls)
    for declared in dataclasses.fields(cls):
        assert hints[declared.name] in known, (cls.__name__, declared.name)


def test_events_are_frozen_and_slotted() -> None:
    for event, _ in SAMPLES:
        assert not hasattr(event, "__dict__"), type(event).__name__
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(event, dataclasses.fields(event)[0].name, "X")


# --- rendering ----------------------------------------------------------------------


@pytest.mark.parametrize(("event", "keys"), SAMPLES, ids=lambda v: getattr(v, "TYPE", ""))
def test_a_payload_is_the_envelope_then_the_fields_in_declared_order(
    event: events.Event, keys: tuple[str, ...]
) -> None:
    payload = payloads.render(ENVELOPE, event)
    assert tuple(payload) == ENVELOPE_KEYS + keys
    assert payload["type"] == event.TYPE
    assert payload["schema"] == events.EVENT_SCHEMA
    envelope = dataclasses.asdict(ENVELOPE)
    assert {key: payload[key] for key in envelope} == envelope


def test_lines_are_rendered_once_as_json_and_reorder_ids_as_a_list() -> None:
    backflush = payloads.render(ENVELOPE, SAMPLES[0][0])
    assert type(backflush["lines"]) is exactjson.Fragment
    assert backflush["lines"] == event_layout.lines_payload(LINES)
    assert backflush["lines"] is event_layout.lines_payload(LINES)  # remembered, not rendered again
    receipt = payloads.render(ENVELOPE, SAMPLES[4][0])
    assert receipt["reorder_ids"] == [1]
    assert type(receipt["reorder_ids"]) is list


def test_opening_is_written_only_for_an_opening_balance() -> None:
    count = payloads.render(ENVELOPE, SAMPLES[5][0])
    assert "opening" not in count
    opening = payloads.render(ENVELOPE, OPENING)
    assert list(opening)[-3:] == ["variance", "uom", "opening"]
    assert opening["opening"] is True


def test_a_backflush_payload_text_byte_for_byte() -> None:
    text = exactjson.dumps(payloads.render(ENVELOPE, SAMPLES[0][0]))
    assert text == (
        '{"event_id":"0b0e8d6e-1c57-4d0c-9a53-6f3f4f1c2a10","type":"backflush","schema":"3",'
        '"occurred_at":"2026-03-02T06:00:02.500Z","stream":"7c4d3a52-9e0f-4b8e-a1d2-5f6e7a8b9c0d",'
        '"seq":17,"boot":3,"site":"plant-1",'
        '"node":"pack-edge-01","part":"FG-100","quantity":41,"uom":"EA","lines":[{"part":"R-GASKET",'
        '"quantity":0.55,"uom":"m"},{"part":"R-SCREW","quantity":4,"uom":"EA"},'
        '{"part":"SUB-200","quantity":1,"uom":"EA"}],'
        f'"bom_hash":"{BOM_HASH}","station":"PACK-1","scanner":"pack-1-hid","scan_id":12}}'
    )


# --- reading back -------------------------------------------------------------------


@pytest.mark.parametrize("event", [*(e for e, _ in SAMPLES), OPENING], ids=lambda e: e.TYPE)
def test_a_stored_payload_reads_back_into_its_event(event: events.Event) -> None:
    parsed = payloads.parse_event(stored(event))
    assert parsed == event
    assert type(parsed) is type(event)


def test_whole_numbers_read_back_as_exact_decimals() -> None:
    parsed = payloads.parse_event(stored(SAMPLES[0][0]))
    assert isinstance(parsed, events.BackflushEvent)
    assert type(parsed.quantity) is Decimal
    assert all(type(quantity) is Decimal for _, quantity, _ in parsed.lines)


def test_reading_back_ignores_the_replayed_flag_and_refuses_what_it_cannot_read() -> None:
    payload = stored(SAMPLES[8][0])
    assert payloads.parse_event({**payload, events.REPLAYED: True}) == SAMPLES[8][0]
    with pytest.raises(UnreadableEvent, match="unknown event type 'rewound'"):
        payloads.parse_event({**payload, "type": "rewound"})
    with pytest.raises(UnreadableEvent, match="without 'reason'"):
        payloads.parse_event({k: v for k, v in payload.items() if k != "reason"})


# --- the summary --------------------------------------------------------------------

SUMMARIES = [
    "41 x FG-100, 3 lines",
    "1 x KIT-1, 2 lines, reason DAMAGED",
    "2.5 x SUB-200, 2 lines",
    "voided backflush of R-GASKET",
    "R-HOUSING received 25",
    "R-SCREW counted 800, variance -33.5",
    "SUB-200 on hand -21 NEGATIVE",
    "R-SCREW order 35700 (reorder 2)",
    "reorder 1 received",
    'invalid-utf8: \\xff"é' + "x" * 34,
    "backup restored at seq 31 of 5e1c2a10-0b0e-4d0c-9a53-8d6e6f3f4f1c",
    "2 opening balances (batch 1 of 2)",
    "stock.receive 0f1e2d3c-4b5a-4968-8776-655443322110 rejected: $.quantity "
    "'1e3' is not a quantity",
    "2 x KIT-1, 2 lines, reason TEST",
    "card KB-SCREW-A of R-SCREW empty, adjusted -8",
    "R-GASKET variance -20 (-10 % of use), tolerance 5 %",
]


def test_each_type_summarizes_in_one_line() -> None:
    assert [payloads.summarize(stored(event)) for event, _ in SAMPLES] == SUMMARIES
    assert payloads.summarize(stored(OPENING)) == "R-WIRE counted 0, variance 0"
    assert payloads.summarize({"type": "rewound", "stream": "x"}) == ""


# --- the replayed flag --------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False, places=6)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=8).filter(lambda k: k != events.REPLAYED), json_values))
def test_the_replayed_flag_is_appended_and_nothing_else_changes(event: dict[str, object]) -> None:
    text = exactjson.dumps(event)
    flagged = payloads.mark_replayed(text)
    assert flagged.startswith(text[:-1])
    assert exactjson.loads(flagged) == {**exactjson.loads(text), events.REPLAYED: True}


def test_the_replayed_flag_on_a_real_payload_an_empty_object_and_a_non_object() -> None:
    text = exactjson.dumps(payloads.render(ENVELOPE, SAMPLES[6][0]))
    assert payloads.mark_replayed(text) == text[:-1] + ',"replayed":true}'
    assert payloads.mark_replayed("{}") == '{"replayed":true}'
    assert payloads.mark_replayed('{"a":1} \n') == '{"a":1,"replayed":true}'
    with pytest.raises(ValueError, match="JSON object"):
        payloads.mark_replayed("[1]")


def test_a_payload_of_schema_1_reads_back_with_none_for_the_fields_added_in_2() -> None:
    payload = stored(SAMPLES[0][0])
    del payload["uom"]
    for line in payload["lines"]:
        del line["uom"]
    parsed = payloads.parse_event({**payload, "schema": "1"})
    assert isinstance(parsed, events.BackflushEvent)
    assert parsed.uom is None
    assert [line[2] for line in parsed.lines] == [None, None, None]
    rejected = stored(SAMPLES[9][0])
    old = {k: v for k, v in rejected.items() if k not in ("station", "scanner")}
    assert payloads.parse_event(old) == events.ScanRejectedEvent(
        13, rejected["code"], "invalid-utf8", None, None
    )
