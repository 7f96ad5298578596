"""Posting plans: what a BOM transaction posts, worked out once per catalog version.

A station ships the same product scan after scan, and every scan would
otherwise look up, per component, its item, reorder policy, unit and
replenishment, the quantity its ledger row carries and what that row
consumes. A :class:`PostingPlan` holds all of it for one part, explosion and
quantity; the BOM graph's memo keeps the plans of quantity one (most scans)
for as long as its catalog version lives, so a remembered plan is never
stale. :class:`PartRules` is the part of it the stock rules read, kept per
part the same way for transactions posted without a plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import NamedTuple

from edge.domain.event_layout import UomLines
from edge.domain.model import Item, ReorderPolicy
from edge.domain.usage import consumed

# A part that is not in the catalog (any more): no policy, no unit.
_UNKNOWN_POLICY = ReorderPolicy()


class PartRules(NamedTuple):
    """What the stock rules need of a part's item."""

    policy: ReorderPolicy
    uom: str | None
    kanban: bool  # refilled by its cards, never by a reorder


def rules_of(item: Item | None) -> PartRules:
    if item is None:
        return PartRules(_UNKNOWN_POLICY, None, kanban=False)
    return PartRules(item.policy, item.uom, item.kanban)


LedgerRow = tuple[str, Decimal, Decimal]
"""A ledger row to post: its part, its quantity (negative: issued) and what it consumes."""


class PostingPlan(NamedTuple):
    """Everything a BOM transaction of one part and quantity posts but the balances."""

    lines: tuple[tuple[str, Decimal], ...]  # the components issued, as Posted reports them
    ledger: tuple[LedgerRow, ...]
    rules: Mapping[str, PartRules]  # of each component
    uom: str | None  # the transaction's part's
    uom_lines: UomLines  # the event's lines


def make_plan(
    part: str,
    lines: tuple[tuple[str, Decimal], ...],
    rules: Callable[[str], PartRules],
) -> PostingPlan:
    """The plan of issuing ``lines`` (component, quantity issued) for ``part``."""
    ledger = tuple((component, -issued, consumed(-issued, reversal=False))
                   for component, issued in lines)  # fmt: skip
    found = {component: rules(component) for component, _ in lines}
    uom_lines = tuple((component, issued, found[component].uom) for component, issued in lines)
    return PostingPlan(lines, ledger, found, rules(part).uom, uom_lines)
