"""Master-data CSV files as read: rows with their positions, and the problems found.

Every file is read and checked completely before anything is written; every
problem is reported with file, line and column, and the database changes
only when there is none. A record is one implementation of
:class:`~edge.masterdata.fields.Fields` (json_rows.py is the other), so the
validators and the apply path (apply.py) never ask where a row came from.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from edge.domain.model import PartError, validate_part
from edge.domain.quantity import QuantityError, parse_quantity
from edge.masterdata.fields import Fields, ImportRefused, Rows

__all__ = ["CellError", "CsvFile", "ImportRefused", "Row", "read_csv"]

PROGRESS_EVERY = 5000

Progress = Callable[[str], None]  # told what the work has reached (see transaction.py)


@dataclass(frozen=True, slots=True)
class CellError:
    file: str
    line: int | None  # None: about the whole file (it cannot be read)
    column: int | None
    name: str | None
    message: str

    @property
    def where(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column is not None:
            where += f":{self.column}"
        if self.name is not None:
            where += f" ({self.name})"
        return where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class Row(Fields):
    """One CSV record with its position, for precise error messages."""

    __slots__ = ("cells", "columns", "errors", "file", "line")

    def __init__(
        self,
        file: str,
        line: int,
        cells: dict[str, str],
        columns: dict[str, int],
        errors: list[Any],
    ) -> None:
        self.file = file
        self.line = line
        self.cells = cells
        self.columns = columns
        self.errors = errors

    @property
    def place(self) -> str:
        return f"on line {self.line}"

    def has(self, name: str) -> bool:
        return name in self.columns

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

    def flag(self, name: str) -> bool:
        value = self.text(name).lower()
        if value in ("", "false", "no", "0"):
            return False
        if value in ("true", "yes", "1"):
            return True
        self.error(name, f"{self.text(name)!r} is not true or false")
        return False

    def whole_number(self, name: str) -> int | None:
        text = self.text(name)
        if not text:
            return None
        if not text.isascii() or not text.isdigit() or len(text) > 5:
            self.error(name, f"{text!r} is not a whole number of days")
            return None
        return int(text)

    def codes(self, name: str) -> list[str]:
        return [code for code in self.cells.get(name, "").split("|") if code.strip()]


@dataclass
class CsvFile(Rows):
    path: Path = field(default_factory=Path)


def read_csv(
    path: Path, columns: Sequence[str], required: Sequence[str], progress: Progress | None = None
) -> CsvFile:
    """Read a CSV (UTF-8, optional BOM) and check its header against ``columns``."""
    name = path.name
    result = CsvFile(name, path=path)
    try:
        data = path.read_bytes()
    except OSError as error:
        # The full path: the name alone does not say which folder was looked in.
        problem = f"cannot read: {error.strerror}"
        result.errors.append(CellError(str(path.absolute()), None, None, None, problem))
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
            progress(f"{count} rows read")
        yield row


def raise_if_errors(file: Rows) -> None:
    file.raise_if_errors()
