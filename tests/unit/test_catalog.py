"""Catalog rules: reorder fields, phantoms from either side, lines that name their own parent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.domain.catalog import (
    CatalogProblem,
    bom_line_problems,
    bom_parent_problems,
    has_reorder_fields,
    is_phantom,
    item_problems,
    reorder_fields,
)
from edge.domain.model import BomLine, ReorderPolicy

D = Decimal
PHANTOM = (
    "reorder fields are not allowed on a phantom assembly (it has a BOM and "
    "stocked = false); set stocked = true to hold it in stock"
)
NEEDS_POINT = "needs a reorder_point"
ABOVE_POINT = "must exceed reorder_point"


@pytest.mark.parametrize(
    ("has_bom", "stocked", "phantom"),
    [
        (True, False, True),
        (True, True, False),
        (False, False, False),  # without a BOM an item is a stock item whatever it says
        (False, True, False),
    ],
)
def test_a_phantom_is_an_unstocked_assembly(has_bom: bool, stocked: bool, phantom: bool) -> None:
    assert is_phantom(has_bom=has_bom, stocked=stocked) is phantom


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (ReorderPolicy(), False),
        (ReorderPolicy(lead_time_days=5), False),  # the lead time only informs
        (ReorderPolicy(reorder_point=D(0)), True),
        (ReorderPolicy(reorder_qty=D(10)), True),
        (ReorderPolicy(max_qty=D(10)), True),
        (ReorderPolicy(order_multiple=D(6)), True),
    ],
)
def test_reorder_fields_are_the_four_quantities(policy: ReorderPolicy, expected: bool) -> None:
    assert has_reorder_fields(policy) is expected


def test_reorder_fields_are_named_as_items_csv_lists_them() -> None:
    policy = ReorderPolicy(D(5), D(10), D(40), D(6), lead_time_days=3)
    assert reorder_fields(policy) == {
        "reorder_point": D(5),
        "reorder_qty": D(10),
        "max_qty": D(40),
        "order_multiple": D(6),
    }


# What an item is: (has a BOM, stocked). Without a BOM it is a stock item either way.
KIND = {
    "item": (False, False),
    "item, stocked = true": (False, True),
    "phantom": (True, False),
    "stocked assembly": (True, True),
}
P = ReorderPolicy
ITEM_CASES = [
    # (case, policy, kind of item, expected problems as (field, message))
    ("no reorder fields", P(), "phantom", []),
    ("a reorder point alone", P(reorder_point=D(5)), "item", []),
    ("point and lot", P(D(5), reorder_qty=D(10)), "item", []),
    ("max above point", P(D(5), max_qty=D("5.001")), "item", []),
    ("every field, stocked assembly", P(D(5), D(10), D(40), D(6), 3), "stocked assembly", []),
    ("lead time only on a phantom", P(lead_time_days=3), "phantom", []),
    ("point on a phantom", P(reorder_point=D(5)), "phantom", [("reorder_point", PHANTOM)]),
    # one problem on a phantom, not the dependent ones as well
    (
        "lot but no point on a phantom",
        P(reorder_qty=D(10)),
        "phantom",
        [("reorder_point", PHANTOM)],
    ),
    ("max = point on a phantom", P(D(5), max_qty=D(5)), "phantom", [("reorder_point", PHANTOM)]),
    ("lot without point", P(reorder_qty=D(10)), "item", [("reorder_qty", NEEDS_POINT)]),
    ("max without point", P(max_qty=D(10)), "item", [("max_qty", NEEDS_POINT)]),
    (
        "multiple without point",
        P(order_multiple=D(6)),
        "item, stocked = true",
        [("order_multiple", NEEDS_POINT)],
    ),
    (
        "all three without point, in column order",
        P(reorder_qty=D(10), max_qty=D(40), order_multiple=D(6)),
        "item",
        [("reorder_qty", NEEDS_POINT), ("max_qty", NEEDS_POINT), ("order_multiple", NEEDS_POINT)],
    ),
    ("max equal to point", P(D(30), max_qty=D(30)), "item", [("max_qty", ABOVE_POINT)]),
    ("max below point", P(D(30), max_qty=D(12)), "stocked assembly", [("max_qty", ABOVE_POINT)]),
    (
        "max equal, other scale",
        P(D("30.0"), max_qty=D(30)),
        "item",
        [("max_qty", ABOVE_POINT)],
    ),
    ("zero point and max", P(D(0), max_qty=D(0)), "item", [("max_qty", ABOVE_POINT)]),
]


@pytest.mark.parametrize(
    ("policy", "kind", "expected"),
    [case[1:] for case in ITEM_CASES],
    ids=[case[0] for case in ITEM_CASES],
)
def test_item_problems(policy: ReorderPolicy, kind: str, expected: list[tuple[str, str]]) -> None:
    has_bom, stocked = KIND[kind]
    problems = item_problems(policy, has_bom=has_bom, stocked=stocked)
    assert [(problem.field, problem.message) for problem in problems] == expected


def _phantom_parent(part: str) -> CatalogProblem:
    return CatalogProblem(
        "parent",
        f"{part!r} has reorder fields but stocked = false, which makes it a phantom "
        "once it has a BOM; set stocked = true in items.csv or clear its reorder fields",
    )


@pytest.mark.parametrize(
    ("stocked", "policy", "expected"),
    [
        (False, ReorderPolicy(), []),
        (False, ReorderPolicy(lead_time_days=4), []),
        (True, ReorderPolicy(D(5), D(10)), []),
        (False, ReorderPolicy(reorder_point=D(5)), [_phantom_parent("RM-ROTOR")]),
        (False, ReorderPolicy(order_multiple=D(6)), [_phantom_parent("RM-ROTOR")]),
    ],
    ids=["plain", "lead-time-only", "stocked", "point", "multiple"],
)
def test_giving_an_item_a_bom_must_not_make_a_reordered_phantom(
    stocked: bool, policy: ReorderPolicy, expected: list[CatalogProblem]
) -> None:
    assert bom_parent_problems("RM-ROTOR", stocked=stocked, policy=policy) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (BomLine("SA-MOTOR", "RM-ROTOR", D(1)), []),
        (BomLine("SA-MOTOR", "sa-motor", D(1)), []),  # part numbers are case-sensitive
        (
            BomLine("SA-MOTOR", "SA-MOTOR", D(2), D(5)),
            [CatalogProblem("component", "a part cannot be its own component")],
        ),
    ],
    ids=["two-parts", "case-differs", "own-component"],
)
def test_bom_line_problems(line: BomLine, expected: list[CatalogProblem]) -> None:
    assert bom_line_problems(line) == expected
