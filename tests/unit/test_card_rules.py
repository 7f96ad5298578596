"""The rules of kanban parts and cards as master data (edge/domain/catalog.py, cards.py),
and the in-memory store's card loading that follows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from edge.cli.terminal import duration
from edge.domain.cards import (
    CARD_KEEPS_PART,
    card_code_problems,
    card_part_problems,
    code_is_a_card,
    container_problems,
    empty_for,
    first_mark,
    is_late,
    upserted_card,
)
from edge.domain.catalog import (
    KANBAN_NOT_REORDERED,
    CatalogProblem,
    bom_parent_problems,
    replenishment_of,
    replenishment_problems,
    tolerance_problems,
)
from edge.domain.model import BomLine, Card, CardState, Item, ReorderPolicy, Replenishment
from edge.domain.ports import KanbanMark, Moment
from edge.domain.usage import Usage
from tests.unit.fake_store import ConstraintError, InMemoryStore

D = Decimal
KANBAN, REORDER = Replenishment.KANBAN, Replenishment.REORDER
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def fields(problems: list[CatalogProblem]) -> list[str]:
    return [problem.field for problem in problems]


# --- items: replenishment and tolerance ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", REORDER),  # an empty cell is the default
        ("reorder", REORDER),
        ("kanban", KANBAN),
        ("Kanban", CatalogProblem("replenishment", "'Kanban' is not one of reorder, kanban")),
        ("kanbn", CatalogProblem("replenishment", "'kanbn' is not one of reorder, kanban")),
    ],
)
def test_replenishment_is_one_of_two(text: str, expected: object) -> None:
    assert replenishment_of(text) == expected


# (has_bom, stocked, cards): what the item is besides its fields.
@pytest.mark.parametrize(
    ("policy", "replenishment", "shape", "expected"),
    [
        (ReorderPolicy(D(5), D(10)), REORDER, (False, False, 0), []),
        (ReorderPolicy(), KANBAN, (False, False, 0), []),  # no BOM: a stock item anyway
        (ReorderPolicy(), KANBAN, (True, True, 0), []),  # a stocked assembly
        # The reorder point stays: it is the low-stock threshold.
        (ReorderPolicy(reorder_point=D(5), lead_time_days=3), KANBAN, (False, False, 0), []),
        (ReorderPolicy(), KANBAN, (True, False, 0), ["replenishment"]),  # a phantom
        (ReorderPolicy(D(5), D(10)), KANBAN, (False, True, 0), ["reorder_qty"]),
        (
            ReorderPolicy(D(5), D(10), D(40), D(6)),
            KANBAN, (False, True, 0), ["reorder_qty", "max_qty", "order_multiple"],
        ),
        (ReorderPolicy(), KANBAN, (False, True, 2), []),
        (ReorderPolicy(), REORDER, (False, True, 2), ["replenishment"]),  # cards keep it kanban
    ],
)  # fmt: skip
def test_replenishment_problems(
    policy: ReorderPolicy,
    replenishment: Replenishment,
    shape: tuple[bool, bool, int],
    expected: list[str],
) -> None:
    has_bom, stocked, cards = shape
    problems = replenishment_problems(
        policy, replenishment, has_bom=has_bom, stocked=stocked, cards=cards
    )
    assert fields(problems) == expected


def test_a_kanban_part_is_refused_reorder_quantities_with_the_reason() -> None:
    [problem] = replenishment_problems(
        ReorderPolicy(D(5), D(10)), KANBAN, has_bom=False, stocked=True
    )
    assert problem == CatalogProblem("reorder_qty", KANBAN_NOT_REORDERED)
    assert KANBAN_NOT_REORDERED == "a kanban part is refilled by its cards, not by reorders"


@pytest.mark.parametrize(
    ("stocked", "kanban", "policy", "expected"),
    [
        (False, True, ReorderPolicy(), ["parent"]),  # a BOM would make it a phantom
        (True, True, ReorderPolicy(), []),
        (False, False, ReorderPolicy(), []),
        (False, False, ReorderPolicy(reorder_point=D(1)), ["parent"]),  # as before
    ],
)
def test_a_bom_cannot_make_a_kanban_part_a_phantom(
    stocked: bool, kanban: bool, policy: ReorderPolicy, expected: list[str]
) -> None:
    assert fields(bom_parent_problems("P", stocked=stocked, policy=policy, kanban=kanban)) == (
        expected
    )


@pytest.mark.parametrize(
    ("tolerance", "expected"),
    [(None, []), (D(0), []), (D("2.5"), []), (D(1500), []), (D("-0.1"), ["count_tolerance_pct"])],
)
def test_a_count_tolerance_is_not_negative(tolerance: Decimal | None, expected: list[str]) -> None:
    assert fields(tolerance_problems(tolerance)) == expected


# --- cards ----------------------------------------------------------------------------

KANBAN_ITEM = Item("R-SCREW", replenishment=KANBAN)


@pytest.mark.parametrize(
    ("alias_of", "is_part", "expected"),
    [
        (None, False, []),
        (None, True, ["'K-1' is a part number; a card id is a code of its own"]),
        ("R-1", False, ["'K-1' is an alias of 'R-1'; a card id is a code of its own"]),
    ],
)
def test_a_card_id_is_a_code_of_its_own(
    alias_of: str | None, is_part: bool, expected: list[str]
) -> None:
    problems = card_code_problems("K-1", part_of_alias=alias_of, is_part=is_part)
    assert [problem.message for problem in problems] == expected
    assert {problem.field for problem in problems} <= {"card"}


def test_an_item_or_alias_with_a_card_id_is_refused_at_its_field() -> None:
    assert code_is_a_card("K-1", "aliases") == CatalogProblem(
        "aliases", "'K-1' is the id of a kanban card; a card id is a code of its own"
    )


@pytest.mark.parametrize(
    ("item", "stocked", "expected"),
    [
        (KANBAN_ITEM, True, None),
        (None, False, "unknown part 'R-SCREW': import it in items.csv first"),
        (KANBAN_ITEM, False, "is a phantom assembly"),
        (Item("R-SCREW"), True, "is replenished by reorders; set replenishment = kanban"),
    ],
)
def test_a_card_belongs_to_a_stocked_kanban_part(
    item: Item | None, stocked: bool, expected: str | None
) -> None:
    problems = card_part_problems("R-SCREW", item, stocked=stocked)
    if expected is None:
        assert problems == []
    else:
        [problem] = problems
        assert problem.field == "part"
        assert expected in problem.message


@pytest.mark.parametrize(
    ("quantity", "refused"), [(D(1), False), (D("0.5"), False), (D(0), True), (D(-2), True)]
)
def test_a_container_holds_more_than_nothing(quantity: Decimal, refused: bool) -> None:
    assert fields(container_problems(quantity)) == (["container_qty"] if refused else [])


EMPTIED = Card("K-1", "R-SCREW", D(100), "A-1", CardState.EMPTY, "2026-03-01T06:00:00.000Z")


@pytest.mark.parametrize(
    ("given", "known", "expected"),
    [
        # A new card is full, whatever it was given as.
        (EMPTIED, None, Card("K-1", "R-SCREW", D(100), "A-1")),
        # A known one keeps its state and since when; quantity and location change.
        (
            Card("K-1", "R-SCREW", D(50), "B-2"),
            EMPTIED,
            Card("K-1", "R-SCREW", D(50), "B-2", CardState.EMPTY, EMPTIED.emptied_at),
        ),
        (
            Card("K-1", "R-NUT", D(100), "A-1"),
            EMPTIED,
            CatalogProblem("part", f"card 'K-1' is a card of 'R-SCREW': {CARD_KEEPS_PART}"),
        ),
    ],
)
def test_an_upsert_keeps_a_cards_state_and_its_part(
    given: Card, known: Card | None, expected: Card | CatalogProblem
) -> None:
    assert upserted_card(given, known) == expected


def test_the_first_mark_is_the_use_so_far() -> None:
    used = Usage(backflush=D(12), scrap=D(1), issue=D("0.5"), bom=D(12))
    assert first_mark(used, NOW) == KanbanMark(D("13.5"), "2026-03-02T06:00:00.000Z")


@pytest.mark.parametrize(
    ("card", "lead_time_days", "empty", "late"),
    [
        (Card("K-1", "P", D(1)), 2, None, False),  # full: never late
        (EMPTIED, None, timedelta(days=1), False),  # no lead time: never late
        (EMPTIED, 2, timedelta(days=1), False),
        (EMPTIED, 1, timedelta(days=1), False),  # exactly the lead time is not longer
        (EMPTIED, 0, timedelta(days=1), True),
    ],
)
def test_a_card_is_late_when_empty_longer_than_the_lead_time(
    card: Card, lead_time_days: int | None, empty: timedelta | None, late: bool
) -> None:
    assert empty_for(card, NOW) == empty
    assert is_late(card, lead_time_days, NOW) is late


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=20), "< 1 min"),
        (timedelta(minutes=5, seconds=59), "5 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(days=2), "2 d"),
        (timedelta(days=2, hours=4, minutes=59), "2 d 4 h"),
    ],
)
def test_an_empty_span_reads_in_its_two_largest_units(span: timedelta, text: str) -> None:
    assert duration(span) == text


# --- the in-memory store follows the same rules -------------------------------------

AT = Moment(NOW, 1000.0, "boot-1")


@pytest.fixture
def store() -> InMemoryStore:
    store = InMemoryStore()
    store.load_catalog(
        [
            Item("R-SCREW", stocked=True, replenishment=KANBAN, aliases=("CUST-S",)),
            Item("R-NUT", stocked=True),
            Item("FG-1"),
        ],
        [BomLine("FG-1", "R-SCREW", D(2))],
    )
    return store


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (Card("R-NUT", "R-SCREW", D(10)), "is a part number"),
        (Card("CUST-S", "R-SCREW", D(10)), "is an alias of 'R-SCREW'"),
        (Card("K-1", "R-NUT", D(10)), "replenished by reorders"),
        (Card("K-1", "FG-1", D(10)), "phantom"),
        (Card("K-1", "NOPE", D(10)), "unknown part"),
        (Card("K-1", "R-SCREW", D(0)), "greater than 0"),
    ],
)
def test_the_fake_refuses_what_the_import_refuses(
    store: InMemoryStore, card: Card, message: str
) -> None:
    with pytest.raises(ConstraintError, match=message):
        store.load_cards([card], AT)
    assert store.cards_of(card.part) == []


def test_the_fake_keeps_a_cards_state_and_part_and_marks_the_first_card(
    store: InMemoryStore,
) -> None:
    store.load_cards([Card("K-1", "R-SCREW", D(10))], AT)
    assert store.kanban_mark("R-SCREW") == KanbanMark(D(0), "2026-03-02T06:00:00.000Z")
    emptied = Card("K-1", "R-SCREW", D(10), state=CardState.EMPTY, emptied_at="2026-03-02T07:00Z")
    store.save_card(emptied, AT)

    store.load_cards([Card("K-1", "R-SCREW", D(12), "B-1")], AT)

    assert store.card("K-1") == Card(
        "K-1", "R-SCREW", D(12), "B-1", CardState.EMPTY, "2026-03-02T07:00Z"
    )
    with pytest.raises(ConstraintError, match="a card keeps its part"):
        store.load_cards([Card("K-1", "R-NUT", D(12))], AT)
    with pytest.raises(ConstraintError, match="is the id of a kanban card"):
        store.load_catalog([Item("K-1")])
    with pytest.raises(ConstraintError, match="is the id of a kanban card"):
        store.load_catalog([Item("R-NUT", aliases=("K-1",))])
