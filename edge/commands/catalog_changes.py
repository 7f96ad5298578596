"""``items.upsert`` and ``bom.replace`` through the master-data apply path of ``edge import``.

The one function the command handler calls for a catalog change is
:func:`apply_catalog_change`; it returns the errors (with JSON paths) or an
empty list when the change was applied.

This version reaches the apply path through the CSV importers
(:func:`edge.masterdata.items.import_items`, :func:`edge.masterdata.bom.import_bom`):
the rows are written as a CSV file in a private temporary directory, imported,
and each error's line and column are turned back into the row's JSON path.
Two consequences, until the master-data apply path takes rows directly:

* the import commits in its own transaction, before the command's answer is
  written in another one. A crash between the two leaves the change applied and
  the command unanswered; the command was not acknowledged (PUBACK), so the
  broker delivers it again and it is applied again, which for an upsert by part
  and a replace by parent changes nothing more, then answered.
* ``if_catalog_version`` is compared just before the import, not under the
  import's write lock: a CSV import in between can slip through.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from edge.commands.parse import CommandError, NumberText
from edge.masterdata.bom import BOM_COLUMNS, import_bom
from edge.masterdata.csv_files import ImportRefused
from edge.masterdata.items import ITEM_COLUMNS, import_items
from edge.service import InventoryService

_FIRST_DATA_LINE: Final = 2  # line 1 is the header
_LINE_FIELDS: Final = ("component", "qty_per", "scrap_pct")


def apply_catalog_change(
    service: InventoryService, command_type: str, rows: Sequence[Any]
) -> list[CommandError]:
    """Apply an ``items.upsert`` or ``bom.replace``; the errors, empty when it was applied."""
    errors: list[CommandError] = []
    if command_type == "items.upsert":
        table, paths = _item_rows(rows, errors)
        columns: Sequence[str] = ITEM_COLUMNS
    else:
        table, paths = _bom_rows(rows, errors)
        columns = BOM_COLUMNS
    if errors:
        return errors
    with tempfile.TemporaryDirectory(prefix="edge-command-") as directory:
        path = Path(directory) / ("items.csv" if command_type == "items.upsert" else "bom.csv")
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(columns)
            writer.writerows([row.get(column, "") for column in columns] for row in table)
        try:
            if command_type == "items.upsert":
                import_items(service, path)
            else:
                import_bom(service, path)
        except ImportRefused as refused:
            for error in refused.errors:
                index = None if error.line is None else error.line - _FIRST_DATA_LINE
                base = paths[index] if index is not None and 0 <= index < len(paths) else "$"
                where = f"{base}.{error.name}" if error.name and base != "$" else base
                errors.append(CommandError(where, error.message))
    return errors


def _item_rows(
    rows: Sequence[Any], errors: list[CommandError]
) -> tuple[list[dict[str, str]], list[str]]:
    table: list[dict[str, str]] = []
    paths: list[str] = []
    for index, row in enumerate(rows):
        path = f"$.items[{index}]"
        cells = _cells(row, path, ITEM_COLUMNS, errors)
        if cells is not None:
            table.append(cells)
            paths.append(path)
    return table, paths


def _bom_rows(
    rows: Sequence[Any], errors: list[CommandError]
) -> tuple[list[dict[str, str]], list[str]]:
    table: list[dict[str, str]] = []
    paths: list[str] = []
    for index, entry in enumerate(rows):
        path = f"$.parents[{index}]"
        if type(entry) is not dict:
            errors.append(CommandError(path, "must be an object with parent and lines"))
            continue
        errors.extend(
            CommandError(f"{path}.{key}", "unknown field (known: parent, lines)")
            for key in entry
            if key not in ("parent", "lines")
        )
        parent = entry.get("parent")
        lines = entry.get("lines")
        if type(parent) is not str:
            errors.append(CommandError(f"{path}.parent", "required: the parent's part number"))
            continue
        if type(lines) is not list or not lines:
            errors.append(CommandError(f"{path}.lines", "required: a non-empty array of lines "
                                       "(the parent's complete BOM)"))  # fmt: skip
            continue
        for number, line in enumerate(lines):
            line_path = f"{path}.lines[{number}]"
            cells = _cells(line, line_path, _LINE_FIELDS, errors)
            if cells is not None:
                table.append({"parent": parent, **cells})
                paths.append(line_path)
    return table, paths


def _cells(
    row: Any, path: str, columns: Sequence[str], errors: list[CommandError]
) -> dict[str, str] | None:
    """A JSON row as the CSV cells it stands for; None (with errors) when it cannot be one."""
    if type(row) is not dict:
        errors.append(CommandError(path, "must be an object"))
        return None
    cells: dict[str, str] = {}
    for key, value in row.items():
        where = f"{path}.{key}"
        if key not in columns:
            errors.append(CommandError(where, f"unknown field (known: {', '.join(columns)})"))
            continue
        cell = _cell(key, value)
        if cell is None:
            errors.append(CommandError(where, f"wrong type: {_kind(value)}"))
            continue
        cells[key] = cell
    return cells


def _cell(key: str, value: Any) -> str | None:
    kind = type(value)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind in (str, NumberText):
        text = str(value)
        # The CSV reader takes "|" in aliases and a line break in a cell as structure.
        return None if "\n" in text or "\r" in text else text
    if kind is int:
        return str(value)
    if key == "aliases" and kind is list and all(type(code) is str for code in value):
        codes: Sequence[str] = value
        return None if any("|" in code for code in codes) else "|".join(codes)
    return None


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array (only aliases is an array, of strings without '|')"
    return f"{type(value).__name__} {str(value)[:40]!r} (line breaks are not allowed)"
