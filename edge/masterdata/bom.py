"""Importing bom.csv: each parent named in the file gets exactly the lines the file gives it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from edge.domain.bom import BomCycleError, find_cycle
from edge.domain.catalog import bom_line_problems, bom_parent_problems
from edge.domain.model import BomLine, ReorderPolicy
from edge.domain.quantity import ZERO, from_storage, to_storage
from edge.masterdata.csv_files import CsvFile, Progress, Row, raise_if_errors, read_csv
from edge.masterdata.summary import ImportSummary
from edge.service import InventoryService
from edge.store import schema

BOM_COLUMNS = ("parent", "component", "qty_per", "scrap_pct")


def import_bom(
    service: InventoryService, path: Path, progress: Progress | None = None
) -> ImportSummary:
    file = read_csv(path, BOM_COLUMNS, ("parent", "component", "qty_per"), progress)
    raise_if_errors(file)
    with service.unit_of_work() as uow:
        columns = schema.items.c
        policy_columns = (
            columns.part,
            columns.stocked,
            columns.reorder_point,
            columns.reorder_qty,
            columns.max_qty,
            columns.order_multiple,
        )
        items = {row.part: row for row in uow.connection.execute(select(*policy_columns))}
        new_lines = _parse_bom(file, set(items))
        raise_if_errors(file)
        boms: dict[str, list[BomLine]] = {}
        for row in uow.connection.execute(select(schema.bom_lines)):
            boms.setdefault(row.parent, []).append(
                BomLine(row.parent, row.component, Decimal(row.qty_per), Decimal(row.scrap_pct))
            )
        for parent in new_lines:
            boms[parent] = [line for line, _ in new_lines[parent]]
        _check_bom_graph(file, boms, new_lines, items)
        raise_if_errors(file)
        for parent, lines in new_lines.items():
            uow.connection.execute(
                delete(schema.bom_lines).where(schema.bom_lines.c.parent == parent)
            )
            for line, _ in lines:
                uow.connection.execute(
                    schema.bom_lines.insert().values(
                        parent=line.parent,
                        component=line.component,
                        qty_per=to_storage(line.qty_per),
                        scrap_pct=to_storage(line.scrap_pct),
                    )
                )
        uow.bump_catalog()
        uow.commit()
    total = sum(len(lines) for lines in new_lines.values())
    return ImportSummary(total, parents=len(new_lines))


def _parse_bom(file: CsvFile, parts: set[str]) -> dict[str, list[tuple[BomLine, Row]]]:
    lines: dict[str, list[tuple[BomLine, Row]]] = {}
    seen: dict[tuple[str, str], int] = {}
    for row in file.rows:
        parent = row.part("parent")
        component = row.part("component")
        qty_per = row.positive("qty_per", required=True)
        scrap_pct = row.quantity("scrap_pct") or ZERO
        if scrap_pct < ZERO:
            row.error("scrap_pct", "cannot be negative")
        for name, value in (("parent", parent), ("component", component)):
            if value is not None and value not in parts:
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
                      f"(first on line {seen[key]})")  # fmt: skip
            continue
        seen[key] = row.line
        lines.setdefault(parent, []).append((line, row))
    return lines


def _check_bom_graph(
    file: CsvFile,
    boms: dict[str, list[BomLine]],
    new_lines: dict[str, list[tuple[BomLine, Row]]],
    items: Mapping[str, Any],
) -> None:
    cycle = find_cycle(boms)
    if cycle is not None:
        # Name the line of this file that is an edge of the cycle, not just any line
        # of a parent on it.
        edges = set(pairwise(cycle))
        rows = [pair for parent in cycle if parent in new_lines for pair in new_lines[parent]]
        closing = [row for line, row in rows if (line.parent, line.component) in edges]
        if closing:
            closing[0].error("component", str(BomCycleError(cycle)))
        else:
            rows[0][1].error(None, str(BomCycleError(cycle)))
    for parent, lines in new_lines.items():
        item = items[parent]
        lines[0][1].report(
            bom_parent_problems(parent, stocked=bool(item.stocked), policy=_reorder_policy(item))
        )


def _reorder_policy(item: Any) -> ReorderPolicy:
    """The reorder fields of an items row as stored (lead time left out: no rule reads it)."""
    return ReorderPolicy(
        reorder_point=_quantity(item.reorder_point),
        reorder_qty=_quantity(item.reorder_qty),
        max_qty=_quantity(item.max_qty),
        order_multiple=_quantity(item.order_multiple),
    )


def _quantity(text: str | None) -> Decimal | None:
    return None if text is None else from_storage(text)
