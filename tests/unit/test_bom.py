"""BOM explosion: phantom and stocked levels, scrap factors, exact products, hash, cycles."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from edge.domain.bom import BomCycleError, BomGraph, find_cycle, line_factor, structure_hash
from edge.domain.model import BomLine
from edge.domain.quantity import ONE, format_quantity

D = Decimal


def graph(rows: list[tuple[str, str, str, str]], stocked: tuple[str, ...] = ()) -> BomGraph:
    """A BOM graph from (parent, component, qty_per, scrap_pct) rows."""
    boms: dict[str, list[BomLine]] = {}
    for parent, component, qty_per, scrap_pct in rows:
        boms.setdefault(parent, []).append(BomLine(parent, component, D(qty_per), D(scrap_pct)))
    return BomGraph(boms, stocked)


# Five levels below FG. P1..P4 are phantoms (exploded through); S3 is a stocked
# sub-assembly with a BOM of its own (consumed as itself); R-* are purchased.
#
#   FG ─ 2 x(1+10%) ─ P1 ─ 3 x(1+5%) ─ P2 ─ 1 ──────────── S3 ─ 2 ─ R-D
#    │                 │                 └─ 0.25 x(1+2%) ─ P3 ─ 4 ─ P4 ─ 0.311 ─ R-A
#    │                 └─ 0.5 ─ R-B                                  └─ 1.5 x(1+1%) ─ R-C
#    └─ 1 ─ R-A
FIVE_LEVELS = [
    ("FG", "P1", "2", "10"),
    ("FG", "R-A", "1", "0"),
    ("P1", "P2", "3", "5"),
    ("P1", "R-B", "0.5", "0"),
    ("P2", "S3", "1", "0"),
    ("P2", "P3", "0.25", "2"),
    ("P3", "P4", "4", "0"),
    ("P4", "R-A", "0.311", "0"),
    ("P4", "R-C", "1.5", "1"),
    ("S3", "R-D", "2", "0"),
]

# Per FG, worked by hand:
#   P1 = 2 x 1.1 = 2.2; P2 = 2.2 x 3 x 1.05 = 6.93; S3 = 6.93 x 1 = 6.93
#   P3 = 6.93 x 0.25 x 1.02 = 1.767135; P4 = 1.767135 x 4 = 7.0686
#   R-A = 7.0686 x 0.311 + 1 = 3.1983346 (two paths, summed)
#   R-B = 2.2 x 0.5 = 1.1; R-C = 7.0686 x 1.5 x 1.01 = 10.708929
FG_PER_UNIT = (
    ("R-A", D("3.1983346")),
    ("R-B", D("1.1")),
    ("R-C", D("10.708929")),
    ("S3", D("6.93")),
)


def test_five_level_explosion_through_phantoms_stops_at_stocked_levels() -> None:
    explosion = graph(FIVE_LEVELS, stocked=("S3",)).consumption("FG")
    assert explosion.lines == FG_PER_UNIT


def test_lines_are_summed_per_part_and_sorted_by_part() -> None:
    explosion = graph(FIVE_LEVELS, stocked=("S3",)).consumption("FG")
    parts = [part for part, _ in explosion.lines]
    assert parts == sorted(parts)
    assert len(parts) == len(set(parts))


def test_explosion_for_a_quantity_multiplies_every_line_exactly() -> None:
    explosion = graph(FIVE_LEVELS, stocked=("S3",)).consumption("FG")
    assert explosion.for_quantity(D(51)) == (
        ("R-A", D("163.1150646")),
        ("R-B", D("56.1")),
        ("R-C", D("546.155379")),
        ("S3", D("353.43")),
    )


def test_one_unit_issues_the_per_unit_lines_digit_for_digit_as_a_multiplication_would() -> None:
    explosion = graph(FIVE_LEVELS, stocked=("S3",)).consumption("FG")
    for one in (ONE, D(1), D("1.0")):
        assert [(part, str(quantity)) for part, quantity in explosion.for_quantity(one)] == [
            (part, str(per_unit * one)) for part, per_unit in explosion.lines
        ]


def test_making_the_stocked_level_a_phantom_explodes_through_it() -> None:
    explosion = graph(FIVE_LEVELS, stocked=()).consumption("FG")
    assert explosion.lines == (
        ("R-A", D("3.1983346")),
        ("R-B", D("1.1")),
        ("R-C", D("10.708929")),
        ("R-D", D("13.86")),
    )


@pytest.mark.parametrize(
    ("part", "consumed", "built_from"),
    [
        # a stocked assembly is shipped or scrapped as itself, built from its own BOM
        ("S3", (("S3", D(1)),), (("R-D", D(2)),)),
        # a purchased part is itself either way
        ("R-A", (("R-A", D(1)),), ()),
        # a phantom is exploded
        (
            "P4",
            (("R-A", D("0.311")), ("R-C", D("1.515"))),
            (("R-A", D("0.311")), ("R-C", D("1.515"))),
        ),
    ],
)
def test_consumption_and_components_per_kind_of_item(
    part: str,
    consumed: tuple[tuple[str, Decimal], ...],
    built_from: tuple[tuple[str, Decimal], ...],
) -> None:
    bom = graph(FIVE_LEVELS, stocked=("S3",))
    assert bom.consumption(part).lines == consumed
    assert bom.components(part).lines == built_from


@pytest.mark.parametrize(
    ("part", "has_bom", "stocked"),
    [("FG", True, False), ("P2", True, False), ("S3", True, True), ("R-A", False, True)],
)
def test_which_items_hold_stock(part: str, has_bom: bool, stocked: bool) -> None:
    bom = graph(FIVE_LEVELS, stocked=("S3",))
    assert bom.has_bom(part) is has_bom
    assert bom.is_stocked(part) is stocked


@pytest.mark.parametrize(
    ("rows", "quantity", "expected"),
    [
        # 0.1 per unit, 3 units: exactly 0.3, not 0.30000000000000004
        ([("A", "B", "0.1", "0")], "3", (("B", D("0.3")),)),
        # products down the levels are kept exactly
        ([("A", "X", "0.311", "0"), ("X", "B", "0.0275", "0")], "1", (("B", D("0.0085525")),)),
        ([("A", "X", "0.311", "0"), ("X", "B", "0.0275", "0")], "51", (("B", D("0.4361775")),)),
        # scrap percentages multiply down the levels: 1 x 1.1 x 1.1 x 1.1
        (
            [("A", "X", "1", "10"), ("X", "Y", "1", "10"), ("Y", "B", "1", "10")],
            "1",
            (("B", D("1.331")),),
        ),
        # fractional scrap: 0.1 x 1.025 x 4
        ([("A", "B", "0.1", "2.5")], "4", (("B", D("0.41")),)),
        # a qty_per written with trailing zeros means the same quantity
        ([("A", "B", "2.500", "0.0")], "2", (("B", D(5)),)),
    ],
)
def test_exact_quantities_down_the_levels(
    rows: list[tuple[str, str, str, str]], quantity: str, expected: tuple[tuple[str, Decimal], ...]
) -> None:
    lines = graph(rows).consumption("A").for_quantity(D(quantity))
    assert lines == expected
    # as written to the ledger and to events
    assert [format_quantity(q) for _, q in lines] == [str(q) for _, q in expected]


@pytest.mark.parametrize(
    ("qty_per", "scrap_pct", "factor"),
    [("2", "0", "2"), ("2", "10", "2.2"), ("0.1", "2.5", "0.1025"), ("3", "100", "6")],
)
def test_line_factor_includes_the_scrap_allowance(
    qty_per: str, scrap_pct: str, factor: str
) -> None:
    assert line_factor(BomLine("A", "B", D(qty_per), D(scrap_pct))) == D(factor)


def test_bom_hash_is_sha256_of_canonical_json_lines() -> None:
    explosion = graph(FIVE_LEVELS, stocked=("S3",)).consumption("FG")
    canonical = '[["R-A",3.1983346],["R-B",1.1],["R-C",10.708929],["S3",6.93]]'
    assert explosion.bom_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert structure_hash(FG_PER_UNIT) == explosion.bom_hash


def test_bom_hash_ignores_line_order_and_how_numbers_were_written() -> None:
    respelled = {"0": "0.00", "1": "1.0", "2": "2.000", "0.5": "0.50", "10": "10.0"}
    shuffled = [
        (parent, component, respelled.get(qty, qty), respelled.get(pct, pct))
        for parent, component, qty, pct in reversed(FIVE_LEVELS)
    ]
    original = graph(FIVE_LEVELS, stocked=("S3",)).consumption("FG")
    assert graph(shuffled, stocked=("S3",)).consumption("FG") == original


def test_bom_hash_writes_whole_numbers_without_exponent() -> None:
    explosion = graph([("A", "B", "100", "0"), ("A", "C", "0.5", "0")]).consumption("A")
    canonical = '[["B",100],["C",0.5]]'
    assert explosion.bom_hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_changed_bom_has_another_hash() -> None:
    before = graph([("A", "B", "1", "0")]).consumption("A").bom_hash
    assert graph([("A", "B", "1", "1")]).consumption("A").bom_hash != before
    assert graph([("A", "C", "1", "0")]).consumption("A").bom_hash != before


def boms(rows: list[tuple[str, str]]) -> dict[str, list[BomLine]]:
    result: dict[str, list[BomLine]] = {}
    for parent, component in rows:
        result.setdefault(parent, []).append(BomLine(parent, component, D(1)))
    return result


@pytest.mark.parametrize(
    ("rows", "cycle"),
    [
        ([("A", "A")], ["A", "A"]),
        ([("A", "B"), ("B", "A")], ["A", "B", "A"]),
        ([("A", "B"), ("B", "C"), ("C", "A")], ["A", "B", "C", "A"]),
        # the cycle is named without the path that leads into it
        ([("TOP", "X"), ("X", "Y"), ("Y", "Z"), ("Z", "X")], ["X", "Y", "Z", "X"]),
    ],
)
def test_find_cycle_names_the_parts_in_the_cycle(
    rows: list[tuple[str, str]], cycle: list[str]
) -> None:
    assert find_cycle(boms(rows)) == cycle
    assert str(BomCycleError(cycle)) == "BOM cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [("A", "B")],
        [("A", "B"), ("A", "C"), ("B", "D"), ("C", "D")],  # a diamond shares, it does not loop
        [(parent, component) for parent, component, _, _ in FIVE_LEVELS],
    ],
)
def test_find_cycle_is_none_for_acyclic_boms(rows: list[tuple[str, str]]) -> None:
    assert find_cycle(boms(rows)) is None


def test_find_cycle_handles_very_deep_boms() -> None:
    chain = [(f"L{level}", f"L{level + 1}") for level in range(5000)]
    assert find_cycle(boms(chain)) is None
    assert find_cycle(boms([*chain, ("L5000", "L2500")])) == [
        *(f"L{level}" for level in range(2500, 5001)),
        "L2500",
    ]
