"""CSV imports: items, BOMs and opening stock, all-or-nothing.

Every file is read and checked completely before anything is written; every
problem is reported with file, line and column, and the database changes
only when there is none. Then the whole file is written in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from edge.domain.bom import BomCycleError, find_cycle
from edge.domain.gtin import normalize_gtin
from edge.domain.inventory import Inventory, Rejection
from edge.domain.model import BomLine, PartError, validate_part
from edge.domain.ports import Moment
from edge.domain.quantity import ZERO, QuantityError, parse_quantity, to_storage
from edge.domain.timestamps import rfc3339
from edge.service import InventoryService
from edge.store import schema as t
from edge.store.unit_of_work import SqlUnitOfWork

ITEM_COLUMNS = (
    "part",
    "description",
    "uom",
    "stocked",
    "reorder_point",
    "reorder_qty",
    "max_qty",
    "order_multiple",
    "lead_time_days",
    "aliases",
)
BOM_COLUMNS = ("parent", "component", "qty_per", "scrap_pct")
STOCK_COLUMNS = ("part", "on_hand")
MAX_ERRORS_SHOWN = 50
PROGRESS_EVERY = 5000

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class CellError:
    file: str
    line: int
    column: int | None
    name: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.column is not None:
            where += f":{self.column}"
        if self.name is not None:
            where += f" ({self.name})"
        return f"{where}: {self.message}"


class ImportError_(Exception):  # noqa: N801 - the builtin ImportError means something else
    """An import refused; nothing was written."""

    def __init__(self, errors: Sequence[CellError]) -> None:
        self.errors = list(errors)
        shown = [str(error) for error in self.errors[:MAX_ERRORS_SHOWN]]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            shown.append(f"... and {len(self.errors) - MAX_ERRORS_SHOWN} more problems")
        super().__init__("\n".join(shown))


@dataclass
class Row:
    """One CSV record with its position, for precise error messages."""

    file: str
    line: int
    cells: dict[str, str]
    columns: dict[str, int]
    errors: list[CellError]

    def error(self, name: str | None, message: str) -> None:
        column = self.columns.get(name) if name is not None else None
        self.errors.append(CellError(self.file, self.line, column, name, message))

    def text(self, name: str) -> str:
        return self.cells.get(name, "").strip()

    def part(self, name: str) -> str | None:
        try:
            return validate_part(self.cells.get(name, ""))
        except PartError as error:
            self.error(name, str(error))
            return None

    def quantity(self, name: str, *, required: bool = False) -> Decimal | None:
        # Quantities are not trimmed: " 5" is not a quantity.
        raw = self.cells.get(name, "")
        if raw == "":
            if required:
                self.error(name, "a value is required")
            return None
        try:
            return parse_quantity(raw)
        except QuantityError as error:
            self.error(name, str(error))
            return None

    def positive(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.quantity(name, required=required)
        if value is not None and value <= ZERO:
            self.error(name, "must be greater than 0")
            return None
        return value


@dataclass
class CsvFile:
    path: Path
    rows: list[Row] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)


def read_csv(
    path: Path, columns: Sequence[str], required: Sequence[str], progress: Progress | None = None
) -> CsvFile:
    """Read a CSV (UTF-8, optional BOM) and check its header against ``columns``."""
    result = CsvFile(path)
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as error:
        result.errors.append(CellError(name, 0, None, None, f"cannot read: {error.strerror}"))
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # Decoded whole, so the line is where the bad byte is, not where a read chunk ended.
        line = data.count(b"\n", 0, error.start) + 1
        result.errors.append(CellError(name, line, None, None, f"not UTF-8 text ({error.reason})"))
        return result
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for record in _records(
            reader, name, columns=columns, required=required, result=result, progress=progress
        ):
            result.rows.append(record)
    except csv.Error as error:
        result.errors.append(CellError(name, reader.line_num, None, None, str(error)))
    return result


def _records(
    reader: Any,
    name: str,
    *,
    columns: Sequence[str],
    required: Sequence[str],
    result: CsvFile,
    progress: Progress | None,
) -> Iterator[Row]:
    header = next(reader, None)
    if header is None:
        result.errors.append(CellError(name, 1, None, None, "the file is empty (no header)"))
        return
    header = [cell.strip() for cell in header]
    positions: dict[str, int] = {}
    for index, column in enumerate(header, start=1):
        if column not in columns:
            # An unknown name is shown escaped when it is not printable: a line break
            # in it would split the message, an escape sequence would reach the terminal.
            shown = column if column.isprintable() else repr(column)
            result.errors.append(
                CellError(
                    name, 1, index, shown,
                    f"unknown column; expected some of: {', '.join(columns)}",
                )
            )  # fmt: skip
        elif column in positions:
            result.errors.append(CellError(name, 1, index, column, "duplicate column"))
        else:
            positions[column] = index
    for column in required:
        if column not in positions:
            result.errors.append(CellError(name, 1, None, column, "required column is missing"))
    if result.errors:
        return
    ended = reader.line_num  # the line the previous record ended on
    for count, record in enumerate(reader, start=1):
        # A quoted line break spreads a record over several lines; it is
        # reported by the line it starts on, where an editor shows it.
        line, ended = ended + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        row = Row(name, line, {}, positions, result.errors)
        if len(record) != len(header):
            row.error(None, f"has {len(record)} fields; the header has {len(header)}")
            continue
        row.cells = {column: record[index - 1] for column, index in positions.items()}
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
        yield row


def _bool(row: Row, name: str) -> bool:
    value = row.text(name).lower()
    if value in ("", "false", "no", "0"):
        return False
    if value in ("true", "yes", "1"):
        return True
    row.error(name, f"{row.text(name)!r} is not true or false")
    return False


def _check_or_raise(file: CsvFile) -> None:
    if file.errors:
        raise ImportError_(file.errors)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    rows: int
    added: int = 0
    updated: int = 0
    parents: int = 0

    def describe(self, kind: str) -> str:
        if kind == "items":
            return f"{self.rows} items: {self.added} added, {self.updated} updated"
        if kind == "bom":
            return f"{self.rows} BOM lines for {self.parents} parents"
        return f"{self.rows} opening balances"


# --- items -----------------------------------------------------------------
def import_items(
    service: InventoryService, path: Path, progress: Progress | None = None
) -> ImportSummary:
    file = read_csv(path, ITEM_COLUMNS, ("part",), progress)
    _check_or_raise(file)
    with service.unit_of_work() as uow:
        existing = {row.part for row in uow.connection.execute(select(t.items.c.part))}
        parents = {
            row.parent for row in uow.connection.execute(select(t.bom_lines.c.parent).distinct())
        }
        alias_owner = {
            row.code: row.part
            for row in uow.connection.execute(select(t.aliases.c.code, t.aliases.c.part))
        }
        records = _parse_items(file, existing, parents, alias_owner)
        _check_or_raise(file)
        now = rfc3339(datetime.now(UTC))
        for record in records:
            values = {key: value for key, value in record.items() if key != "aliases"}
            values["updated_at"] = now
            update = {key: value for key, value in values.items() if key != "part"}
            uow.connection.execute(
                sqlite_insert(t.items)
                .values(**values)
                .on_conflict_do_update(index_elements=[t.items.c.part], set_=update)
            )
            if record["aliases"] is not None:
                uow.connection.execute(delete(t.aliases).where(t.aliases.c.part == record["part"]))
                for code in record["aliases"]:
                    uow.connection.execute(
                        t.aliases.insert().values(code=code, part=record["part"])
                    )
        uow.bump_catalog()
        uow.commit()
    added = sum(1 for record in records if record["part"] not in existing)
    return ImportSummary(len(records), added=added, updated=len(records) - added)


def _parse_items(
    file: CsvFile, existing: set[str], parents: set[str], alias_owner: dict[str, str]
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    file_parts = {row.text("part") for row in file.rows}
    # Aliases of the parts in this file are replaced; others' stay and still collide.
    owners = {code: part for code, part in alias_owner.items() if part not in file_parts}
    for row in file.rows:
        part = row.part("part")
        if part is None:
            continue
        if part in seen:
            row.error("part", f"{part!r} is listed again (first on line {seen[part]})")
            continue
        seen[part] = row.line
        if part in owners:
            row.error("part", f"{part!r} is already an alias of {owners[part]!r}")
        stocked = _bool(row, "stocked")
        policy = {
            "reorder_point": row.quantity("reorder_point"),
            "reorder_qty": row.positive("reorder_qty"),
            "max_qty": row.positive("max_qty"),
            "order_multiple": row.positive("order_multiple"),
        }
        lead_time = _lead_time(row)
        _check_policy(row, policy, phantom=part in parents and not stocked)
        aliases = (
            _aliases(row, part, owners, existing | file_parts) if "aliases" in row.columns else None
        )
        records.append({
            "part": part,
            "description": row.text("description"),
            "uom": row.text("uom") or "EA",
            "stocked": stocked,
            **{key: None if value is None else to_storage(value) for key, value in policy.items()},
            "lead_time_days": lead_time,
            "aliases": aliases,
        })  # fmt: skip
    return records


def _lead_time(row: Row) -> int | None:
    text = row.text("lead_time_days")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        row.error("lead_time_days", f"{text!r} is not a whole number of days")
        return None
    return int(text)


def _check_policy(row: Row, policy: Mapping[str, Decimal | None], *, phantom: bool) -> None:
    point = policy["reorder_point"]
    if phantom and any(value is not None for value in policy.values()):
        row.error(
            "reorder_point",
            "reorder fields are not allowed on a phantom assembly (it has a BOM and "
            "stocked = false); set stocked = true to hold it in stock",
        )
        return
    for name in ("reorder_qty", "max_qty", "order_multiple"):
        if policy[name] is not None and point is None:
            row.error(name, "needs a reorder_point")
    max_qty = policy["max_qty"]
    if max_qty is not None and point is not None and max_qty <= point:
        row.error("max_qty", "must exceed reorder_point")


def _aliases(row: Row, part: str, owners: dict[str, str], parts: set[str]) -> list[str]:
    result: list[str] = []
    for raw in row.cells.get("aliases", "").split("|"):
        if not raw.strip():
            continue
        try:
            code = validate_part(raw)
        except PartError as error:
            row.error("aliases", f"alias {raw!r}: {error}")
            continue
        code = normalize_gtin(code) or code
        if code in parts and code != part:
            row.error("aliases", f"alias {code!r} is also a part number")
        elif code in owners and owners[code] != part:
            row.error("aliases", f"alias {code!r} already belongs to {owners[code]!r}")
        elif code not in result and code != part:
            result.append(code)
            owners[code] = part
    return result


# --- BOMs ------------------------------------------------------------------
def import_bom(
    service: InventoryService, path: Path, progress: Progress | None = None
) -> ImportSummary:
    file = read_csv(path, BOM_COLUMNS, ("parent", "component", "qty_per"), progress)
    _check_or_raise(file)
    with service.unit_of_work() as uow:
        items = {
            row.part: row
            for row in uow.connection.execute(
                select(t.items.c.part, t.items.c.stocked, t.items.c.reorder_point,
                       t.items.c.reorder_qty, t.items.c.max_qty, t.items.c.order_multiple)
            )
        }  # fmt: skip
        new_lines = _parse_bom(file, set(items))
        _check_or_raise(file)
        boms: dict[str, list[BomLine]] = {}
        for row in uow.connection.execute(select(t.bom_lines)):
            boms.setdefault(row.parent, []).append(
                BomLine(row.parent, row.component, Decimal(row.qty_per), Decimal(row.scrap_pct))
            )
        for parent in new_lines:
            boms[parent] = [line for line, _ in new_lines[parent]]
        _check_bom_graph(file, boms, new_lines, items)
        _check_or_raise(file)
        for parent, lines in new_lines.items():
            uow.connection.execute(delete(t.bom_lines).where(t.bom_lines.c.parent == parent))
            for line, _ in lines:
                uow.connection.execute(
                    t.bom_lines.insert().values(
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
        if parent == component:
            row.error("component", "a part cannot be its own component")
            continue
        key = (parent, component)
        if key in seen:
            row.error("component", f"duplicate line for {parent} -> {component} "
                      f"(first on line {seen[key]})")  # fmt: skip
            continue
        seen[key] = row.line
        lines.setdefault(parent, []).append((BomLine(parent, component, qty_per, scrap_pct), row))
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
        has_policy = any(
            value is not None
            for value in (item.reorder_point, item.reorder_qty, item.max_qty, item.order_multiple)
        )
        if not item.stocked and has_policy:
            lines[0][1].error(
                "parent",
                f"{parent!r} has reorder fields but stocked = false, which makes it a phantom "
                "once it has a BOM; set stocked = true in items.csv or clear its reorder fields",
            )


# --- opening stock -----------------------------------------------------------
def import_stock(
    service: InventoryService, path: Path, at: Moment, progress: Progress | None = None
) -> ImportSummary:
    file = read_csv(path, STOCK_COLUMNS, STOCK_COLUMNS, progress)
    _check_or_raise(file)
    seen: dict[str, int] = {}
    entries: list[tuple[Row, str, Decimal]] = []
    for row in file.rows:
        part = row.part("part")
        on_hand = row.quantity("on_hand", required=True)
        if on_hand is not None and on_hand < ZERO:
            row.error("on_hand", "an opening balance cannot be negative")
            continue
        if part is None or on_hand is None:
            continue
        if part in seen:
            row.error("part", f"{part!r} is listed again (first on line {seen[part]})")
            continue
        seen[part] = row.line
        entries.append((row, part, on_hand))
    _check_or_raise(file)

    def post(inventory: Inventory, uow: SqlUnitOfWork) -> None:
        for row, part, on_hand in entries:
            try:
                with uow.savepoint():
                    inventory.opening(part, on_hand, at)
            except Rejection as rejection:
                row.error("part", rejection.message)
        _check_or_raise(file)

    service.transact(post)
    return ImportSummary(len(entries))
