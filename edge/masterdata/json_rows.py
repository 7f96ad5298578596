"""Master-data rows from JSON (MQTT commands): the same fields as the CSV columns.

A row is a JSON object whose keys are the CSV column names. Quantities are
JSON numbers (parsed as exact :class:`~decimal.Decimal`, or kept as their
literal text in a ``str`` subclass) or strings, both held to SPEC §3's
pattern, so ``1e3`` and ``0.1234567`` are refused as in a CSV cell; a binary
float is refused outright. ``stocked`` is a JSON boolean, ``aliases`` a list
of strings, ``lead_time_days`` an integer; ``null`` is an absent field.
Unknown keys and wrong types are errors at their JSON path
(``$.items[3].reorder_qty: ...``).

``bom.replace`` sends parents with their complete lines
(``{"parent": "P", "lines": [{"component": "C", "qty_per": 2}]}``): each line
becomes one row holding its parent, whose ``parent`` field is reported at
the parent's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from edge.domain.model import PartError, validate_part
from edge.domain.quantity import QuantityError, parse_quantity
from edge.masterdata.fields import Fields, Problem, Rows, SourceError

MAX_DAYS: Final = 99_999  # as a CSV cell allows: five digits
_LINE_FIELDS: Final = ("component", "qty_per", "scrap_pct")
_PARENT_FIELDS: Final = ("parent", "lines")


class JsonFields(Fields):
    """One JSON object as a row; ``paths`` places a field elsewhere than ``path.name``."""

    __slots__ = ("errors", "path", "paths", "values")

    def __init__(
        self,
        values: Mapping[str, Any],
        path: str,
        errors: list[Problem],
        paths: Mapping[str, str] | None = None,
    ) -> None:
        self.values = values
        self.path = path
        self.errors = errors
        self.paths = paths or {}

    @property
    def place(self) -> str:
        return f"at {self.path}"

    def where(self, name: str | None) -> str:
        if name is None:
            return self.path
        return self.paths.get(name) or f"{self.path}.{name}"

    def has(self, name: str) -> bool:
        return name in self.values

    def error(self, name: str | None, message: str) -> None:
        self.errors.append(SourceError(self.where(name), message))

    def _given(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str:
        value = self._given(name)
        if value is None:
            return ""
        if type(value) is not str:
            self.error(name, f"must be a string, not {_kind(value)}")
            return ""
        return value.strip()

    def part(self, name: str) -> str | None:
        value = self._given(name)
        if value is not None and type(value) is not str:
            self.error(name, f"must be a string (a part number), not {_kind(value)}")
            return None
        try:
            return validate_part(value or "")
        except PartError as error:
            self.error(name, str(error))
            return None

    def quantity(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self._given(name)
        if value is None:
            if required:
                self.error(name, "a value is required")
            return None
        # A str subclass may be a number kept as its literal text.
        if isinstance(value, str) or type(value) is int:
            text = str(value)
        elif type(value) is Decimal:
            # str() of a Decimal is exact; an exponent in it fails the pattern, as in a file.
            text = str(value)
        elif type(value) is float:
            self.error(name, f"{value!r} arrived as a binary float, which is not exact "
                       "(parse JSON numbers as decimal.Decimal)")  # fmt: skip
            return None
        else:
            self.error(name, f"must be a number or a string holding one, not {_kind(value)}")
            return None
        try:
            return parse_quantity(text)
        except QuantityError as error:
            self.error(name, str(error))
            return None

    def flag(self, name: str) -> bool:
        value = self._given(name)
        if value is None:
            return False
        if type(value) is not bool:
            self.error(name, f"must be true or false, not {_kind(value)}")
            return False
        return value

    def whole_number(self, name: str) -> int | None:
        value = self._given(name)
        if value is None:
            return None
        if type(value) is not int or not 0 <= value <= MAX_DAYS:
            self.error(name, f"must be a whole number of days 0..{MAX_DAYS}, not {_kind(value)}")
            return None
        return value

    def codes(self, name: str) -> list[str]:
        value = self._given(name)
        if value is None:
            return []
        if type(value) is not list:
            self.error(name, f"must be a list of strings, not {_kind(value)}")
            return []
        codes: list[str] = []
        for index, code in enumerate(value):
            if type(code) is str:
                codes.append(code)
            else:
                where = f"{self.where(name)}[{index}]"
                self.errors.append(SourceError(where, f"must be a string, not {_kind(code)}"))
        return codes


def json_rows(value: object, path: str, fields: Sequence[str]) -> Rows:
    """The rows of a JSON array of objects at ``path`` (``$.items``), each key one of ``fields``.

    Problems of shape (not an array, a row that is no object, an unknown key)
    are in the result's ``errors`` already; the values are checked when read.
    """
    rows = Rows(path, root=_root(path), read_errors_stop=False)
    for entry_path, entry in _entries(value, path, rows):
        known = _object(entry, entry_path, fields, rows)
        if known is not None:
            rows.rows.append(JsonFields(known, entry_path, rows.errors))
    return rows


def json_bom_rows(value: object, path: str) -> Rows:
    """The lines of ``bom.replace`` parents (``$.parents``), one row per line with its parent."""
    rows = Rows(path, root=_root(path), read_errors_stop=False)
    for parent_path, entry in _entries(value, path, rows):
        parent = _object(entry, parent_path, _PARENT_FIELDS, rows)
        if parent is None:
            continue
        lines = parent.get("lines")
        lines_path = f"{parent_path}.lines"
        if type(lines) is not list or not lines:
            shown = "missing" if lines is None else _kind(lines)
            rows.errors.append(SourceError(lines_path, "must be a non-empty list of lines (the "
                                           f"parent's complete BOM), not {shown}"))  # fmt: skip
            if "parent" in parent:
                # Still read, so a wrong parent is reported too.
                JsonFields(parent, parent_path, rows.errors).part("parent")
            continue
        placed = {"parent": f"{parent_path}.parent"}
        for number, line in enumerate(lines):
            line_path = f"{lines_path}[{number}]"
            known = _object(line, line_path, _LINE_FIELDS, rows)
            if known is not None:
                values = {**known, "parent": parent.get("parent")}
                rows.rows.append(JsonFields(values, line_path, rows.errors, placed))
    return rows


def _entries(value: object, path: str, rows: Rows) -> list[tuple[str, Any]]:
    if type(value) is not list:
        rows.errors.append(SourceError(path, f"must be a list, not {_kind(value)}"))
        return []
    return [(f"{path}[{index}]", entry) for index, entry in enumerate(value)]


def _object(entry: Any, path: str, fields: Sequence[str], rows: Rows) -> Mapping[str, Any] | None:
    if type(entry) is not dict:
        rows.errors.append(SourceError(path, f"must be an object, not {_kind(entry)}"))
        return None
    for key in entry:
        if key not in fields:
            shown = key if isinstance(key, str) and key.isprintable() else repr(key)
            known = ", ".join(fields)
            rows.errors.append(
                SourceError(f"{path}.{shown}", f"unknown field; expected some of: {known}")
            )
    return entry


def _root(path: str) -> str:
    """``$`` of ``$.items``: where a problem with the whole command is reported."""
    for index, char in enumerate(path):
        if char in ".[" and index:
            return path[:index]
    return path


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
