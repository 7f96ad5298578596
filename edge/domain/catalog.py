"""Catalog rules: what an item's reorder fields and a BOM line may say.

A phantom is an assembly with a BOM that is not stocked: its parents'
backflush explodes through it, so it holds no stock and nothing can reorder
it. Reorder fields on a phantom are refused from both sides: an item given
reorder fields while it has a BOM (:func:`item_problems`), and a BOM given to
an unstocked item that has reorder fields (:func:`bom_parent_problems`).

Every rule answers with :class:`CatalogProblem` values that name the field at
fault, so whoever supplied the values (the CSV import) can say where it is.
The messages speak of the master-data files because that is where a user
fixes them.

A kanban part (``replenishment = kanban``) holds stock and is refilled by its
cards, never by reorder events: it may keep a ``reorder_point`` (its low-stock
threshold) but no reorder quantities, and it cannot be a phantom, from either
side again (:func:`replenishment_problems`, :func:`bom_parent_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from edge.domain.model import BomLine, ReorderPolicy, Replenishment

_PHANTOM_ITEM = (
    "reorder fields are not allowed on a phantom assembly (it has a BOM and "
    "stocked = false); set stocked = true to hold it in stock"
)

KANBAN_NOT_REORDERED = "a kanban part is refilled by its cards, not by reorders"
_KANBAN_PHANTOM = (
    "a phantom assembly (it has a BOM and stocked = false) holds no stock, so it cannot "
    "be kanban; set stocked = true to hold it in stock"
)
REPLENISHMENTS = tuple(choice.value for choice in Replenishment)


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    """A broken catalog rule: the field it concerns and what is wrong."""

    field: str
    message: str


def reorder_fields(policy: ReorderPolicy) -> dict[str, Decimal | None]:
    """The fields that make a part reordered, by name, in the order items.csv lists them.

    The lead time is not one of them: it only informs, and a phantom may carry it.
    """
    return {
        "reorder_point": policy.reorder_point,
        "reorder_qty": policy.reorder_qty,
        "max_qty": policy.max_qty,
        "order_multiple": policy.order_multiple,
    }


def has_reorder_fields(policy: ReorderPolicy) -> bool:
    return any(value is not None for value in reorder_fields(policy).values())


def is_phantom(*, has_bom: bool, stocked: bool) -> bool:
    """Whether an item is exploded through by its parents instead of held in stock."""
    return has_bom and not stocked


def item_problems(policy: ReorderPolicy, *, has_bom: bool, stocked: bool) -> list[CatalogProblem]:
    """What is wrong with an item's reorder fields, given whether it has a BOM."""
    if is_phantom(has_bom=has_bom, stocked=stocked) and has_reorder_fields(policy):
        # One problem is enough: the other checks assume the fields belong there at all.
        return [CatalogProblem("reorder_point", _PHANTOM_ITEM)]
    point = policy.reorder_point
    problems = [
        CatalogProblem(name, "needs a reorder_point")
        for name, value in reorder_fields(policy).items()
        if name != "reorder_point" and value is not None and point is None
    ]
    if policy.max_qty is not None and point is not None and policy.max_qty <= point:
        problems.append(CatalogProblem("max_qty", "must exceed reorder_point"))
    return problems


def replenishment_of(text: str) -> Replenishment | CatalogProblem:
    """The replenishment an items.csv cell names (empty: ``reorder``), or why it names none."""
    if not text:
        return Replenishment.REORDER
    if text in REPLENISHMENTS:
        return Replenishment(text)
    return CatalogProblem(
        "replenishment", f"{text[:40]!r} is not one of {', '.join(REPLENISHMENTS)}"
    )


def replenishment_problems(
    policy: ReorderPolicy,
    replenishment: Replenishment,
    *,
    has_bom: bool,
    stocked: bool,
    cards: int = 0,
) -> list[CatalogProblem]:
    """What is wrong with how an item is replenished; ``cards``: how many kanban cards it has."""
    if replenishment is Replenishment.REORDER:
        if cards:
            return [
                CatalogProblem(
                    "replenishment",
                    f"the part has {cards} kanban card(s), so it stays kanban "
                    "(replenishment = kanban)",
                )
            ]
        return []
    if is_phantom(has_bom=has_bom, stocked=stocked):
        return [CatalogProblem("replenishment", _KANBAN_PHANTOM)]
    return [
        CatalogProblem(name, KANBAN_NOT_REORDERED)
        for name, value in reorder_fields(policy).items()
        if name != "reorder_point" and value is not None
    ]


def bom_parent_problems(
    part: str, *, stocked: bool, policy: ReorderPolicy, kanban: bool = False
) -> list[CatalogProblem]:
    """What is wrong with giving ``part`` a BOM, given its item's fields."""
    if kanban and is_phantom(has_bom=True, stocked=stocked):
        return [
            CatalogProblem(
                "parent",
                f"{part!r} is a kanban part but stocked = false, which makes it a phantom "
                "once it has a BOM; set stocked = true in items.csv",
            )
        ]
    if is_phantom(has_bom=True, stocked=stocked) and has_reorder_fields(policy):
        return [
            CatalogProblem(
                "parent",
                f"{part!r} has reorder fields but stocked = false, which makes it a phantom "
                "once it has a BOM; set stocked = true in items.csv or clear its reorder fields",
            )
        ]
    return []


def bom_line_problems(line: BomLine) -> list[CatalogProblem]:
    """What is wrong with a BOM line on its own (cycles need the whole graph: see bom.py)."""
    if line.parent == line.component:
        return [CatalogProblem("component", "a part cannot be its own component")]
    return []


def tolerance_problems(tolerance_pct: Decimal | None) -> list[CatalogProblem]:
    """What is wrong with an item's count_tolerance_pct (None: the config's default applies)."""
    if tolerance_pct is not None and tolerance_pct < 0:
        return [
            CatalogProblem(
                "count_tolerance_pct",
                "cannot be negative (a percent of the consumption since the previous count)",
            )
        ]
    return []
