"""bom.csv and ``bom.replace``: each parent named gets exactly the lines given for it.

:func:`validate_bom` turns rows into the complete new lines of each parent,
checked against a snapshot of the catalog (unknown parts, phantoms with
reorder fields, cycles through the whole resulting graph), outside the
write lock; :func:`write_bom` replaces them with bulk statements in the
apply transaction (apply.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy.engine import Connection

from edge.domain.bom import BomCycleError, find_cycle
from edge.domain.catalog import bom_line_problems, bom_parent_problems
from edge.domain.inventory import Inventory
from edge.domain.model import BomLine, Item
from edge.domain.quantity import ZERO, to_storage
from edge.masterdata.fields import Fields, Rows
from edge.masterdata.summary import ImportSummary
from edge.masterdata.transaction import CsvImport, Plan
from edge.store import catalog_writes
from edge.store.unit_of_work import SqlUnitOfWork

BOM_COLUMNS = ("parent", "component", "qty_per", "scrap_pct")

_Lines = dict[str, list[tuple[BomLine, Fields]]]


@dataclass(frozen=True, slots=True)
class BomChange:
    lines: dict[str, list[BomLine]]  # by parent: its complete new BOM

    def summary(self) -> ImportSummary:
        total = sum(len(lines) for lines in self.lines.values())
        return ImportSummary(total, parents=len(self.lines))


def validate_bom(rows: Rows, snapshot: Connection) -> BomChange:
    """The new BOMs ``rows`` give, checked against ``snapshot``; errors recorded in ``rows``."""
    items = catalog_writes.all_items(snapshot)
    new_lines = _parse_bom(rows, items)
    if rows.errors:
        return BomChange({})
    boms = catalog_writes.all_bom_lines(snapshot)
    for parent in new_lines:
        boms[parent] = [line for line, _ in new_lines[parent]]
    _check_bom_graph(boms, new_lines, items)
    return BomChange({parent: [line for line, _ in lines] for parent, lines in new_lines.items()})


def write_bom(_inventory: Inventory, uow: SqlUnitOfWork, change: BomChange) -> None:
    catalog_writes.replace_bom_lines(uow.connection, [
        (parent, [(line.component, to_storage(line.qty_per), to_storage(line.scrap_pct))
                  for line in lines])
        for parent, lines in change.lines.items()
    ])  # fmt: skip


BOMS: Plan[BomChange] = Plan(validate_bom, write_bom, changes_catalog=True)
# Each parent of the rows (CSV lines, or json_bom_rows) gets exactly its lines there.
replace_boms = BOMS.apply
import_bom = CsvImport(BOMS, BOM_COLUMNS, ("parent", "component", "qty_per"))


def _parse_bom(rows: Rows, items: dict[str, Item]) -> _Lines:
    lines: _Lines = {}
    seen: dict[tuple[str, str], str] = {}
    for row in rows.rows:
        parent = row.part("parent")
        component = row.part("component")
        qty_per = row.positive("qty_per", required=True)
        scrap_pct = row.quantity("scrap_pct") or ZERO
        if scrap_pct < ZERO:
            row.error("scrap_pct", "cannot be negative")
        for name, value in (("parent", parent), ("component", component)):
            if value is not None and value not in items:
                row.error(name, f"unknown part {value!r}: import it in items.csv first")
        if parent is None or component is None or qty_per is None:
            continue
        line = BomLine(parent, component, qty_per, scrap_pct)
        problems = bom_line_problems(line)
        if problems:
            row.report(problems)
            continue
        key = (parent, component)
        if key in seen:
            row.error("component", f"duplicate line for {parent} -> {component} "
                      f"(first {seen[key]})")  # fmt: skip
            continue
        seen[key] = row.place
        lines.setdefault(parent, []).append((line, row))
    return lines


def _check_bom_graph(
    boms: dict[str, list[BomLine]], new_lines: _Lines, items: dict[str, Item]
) -> None:
    cycle = find_cycle(boms)
    if cycle is not None:
        # Name the row that is an edge of the cycle, not just any row of a parent on it.
        edges = set(pairwise(cycle))
        rows = [pair for parent in cycle if parent in new_lines for pair in new_lines[parent]]
        closing = [row for line, row in rows if (line.parent, line.component) in edges]
        if closing:
            closing[0].error("component", str(BomCycleError(cycle)))
        else:
            rows[0][1].error(None, str(BomCycleError(cycle)))
    for parent, lines in new_lines.items():
        item = items[parent]
        lines[0][1].report(bom_parent_problems(parent, stocked=item.stocked, policy=item.policy,
                                                kanban=item.kanban))  # fmt: skip
