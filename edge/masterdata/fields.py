"""Master-data rows, whatever they came from: the fields a validator reads, and its refusals.

A validator (items.py, bom.py, stock.py) reads every row through
:class:`Fields` and never asks where the row came from. Two sources
implement it: a CSV record (csv_files.py, errors as ``items.csv:12:3 (uom):
...``) and a JSON object of an MQTT command (json_rows.py, errors as
``$.items[3].reorder_qty: ...``). A batch of them is :class:`Rows`, whose
``errors`` list every row of the batch appends to; the batch is refused
when it is not empty.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from edge.domain.catalog import CatalogProblem
from edge.domain.quantity import ZERO

MAX_ERRORS_SHOWN = 50


class Problem(Protocol):
    """One thing wrong with the input: where it is and what is wrong.

    ``where`` is ``file:line:col`` (CSV) or a JSON path; ``str()`` is the whole
    sentence a person reads (``where: message``).
    """

    @property
    def where(self) -> str: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SourceError:
    """A problem with the input as a whole, or at a place the source names itself."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRefused(Exception):
    """An import or command refused; nothing was written."""

    def __init__(self, errors: Sequence[Problem]) -> None:
        self.errors = list(errors)
        shown = [str(error) for error in self.errors[:MAX_ERRORS_SHOWN]]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            shown.append(f"... and {len(self.errors) - MAX_ERRORS_SHOWN} more problems")
        super().__init__("\n".join(shown))


class Fields(ABC):
    """One row of master data: named fields, read with their checks, errors at their place."""

    __slots__ = ()

    @property
    @abstractmethod
    def place(self) -> str:
        """Where the row is, to follow "first": ``on line 12``, ``at $.items[3]``."""

    @abstractmethod
    def has(self, name: str) -> bool:
        """Whether the source gives this field at all (a CSV column, a JSON key)."""

    @abstractmethod
    def error(self, name: str | None, message: str) -> None:
        """Record a problem with field ``name`` (None: the row as a whole)."""

    @abstractmethod
    def text(self, name: str) -> str:
        """A text field, trimmed; empty when absent."""

    @abstractmethod
    def part(self, name: str) -> str | None:
        """A part number (validated); None, with an error, when it is not one."""

    @abstractmethod
    def quantity(self, name: str, *, required: bool = False) -> Decimal | None:
        """An exact quantity (SPEC §3's pattern); None when absent or wrong (then an error)."""

    @abstractmethod
    def flag(self, name: str) -> bool:
        """A true/false field; false when absent."""

    @abstractmethod
    def whole_number(self, name: str) -> int | None:
        """A whole number 0..99999 (days); None when absent or wrong (then an error)."""

    @abstractmethod
    def codes(self, name: str) -> list[str]:
        """A list of codes as given, not yet validated (aliases)."""

    def positive(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.quantity(name, required=required)
        if value is not None and value <= ZERO:
            self.error(name, "must be greater than 0")
            return None
        return value

    def report(self, problems: Iterable[CatalogProblem]) -> None:
        """Record the domain's verdicts on this row's values, each at its field."""
        for problem in problems:
            self.error(problem.field, problem.message)


@dataclass
class Rows:
    """A batch of rows from one source, and the problems found in it so far.

    ``source`` names the input (``items.csv``, ``$.items``); ``root`` is where a
    problem with the request as a whole is reported (the file, or ``$``).
    ``read_errors_stop``: problems found while reading refuse the rows before
    they are validated (a CSV file with a broken header or record has no
    trustworthy rows); JSON objects are checked each on its own, so every
    wrong value is reported with the unknown fields.
    """

    source: str
    rows: list[Fields] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    root: str = ""
    read_errors_stop: bool = True

    def whole(self, name: str | None, message: str) -> None:
        """A problem with the input as a whole (``name``: a field of the request, if any)."""
        root = self.root or self.source
        where = root if name is None else _member(root, name)
        self.errors.append(SourceError(where, message))

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ImportRefused(self.errors)


def _member(root: str, name: str) -> str:
    # A JSON path names the member; a file name gets the field in parentheses.
    return f"{root}.{name}" if root.startswith("$") else f"{root} ({name})"
