"""The schema of one TOML table: which keys it has, the value type of each, what it builds.

A :class:`Table` reads one parsed TOML table into a frozen dataclass: it rejects
unknown keys with a hint, parses each known key with its value type, makes a
relative path relative to the config file's directory, names every required key
that is missing, then runs the table's cross-key rule. A key left out of the file
takes the dataclass field's default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from edge.config.problems import Invalid, Report, did_you_mean
from edge.config.values import Value, toml_type

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Check", "Table"]

_D = TypeVar("_D", bound="DataclassInstance")

# A table's cross-key rule: sees the parsed values of the keys given (by TOML key),
# may fill in defaults that depend on other keys, reports problems.
Check = Callable[[dict[str, Any], str, Report], None]


@dataclass(frozen=True)
class Table(Generic[_D]):
    """The schema of one TOML table: each key with its value type, building ``cls``.

    A key sets the dataclass attribute of the same name unless ``renames`` says
    otherwise; a dataclass field without a default is a required key.
    """

    cls: type[_D]
    keys: Mapping[str, Value[Any]]
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    check: Check | None = None

    def attribute(self, key: str) -> str:
        return self.renames.get(key, key)

    def parse(
        self,
        raw: object,
        where: str,
        report: Report,
        base: Path,
        misplaced: Mapping[str, str] | None = None,
    ) -> _D | None:
        """Build ``cls`` from a parsed TOML table, or report why not and return None.

        ``misplaced`` maps keys that are known but wrong here to the message to give.
        """
        if not isinstance(raw, dict):
            report.add(where, f"expected a table, got {toml_type(raw)}")
            return None
        problems = len(report.lines)
        values: dict[str, Any] = {}
        for key, item in raw.items():
            value_type = self.keys.get(key)
            if value_type is None:
                if misplaced and key in misplaced:
                    report.add(f"{where}.{key}", misplaced[key])
                else:
                    report.add(f"{where}.{key}", "unknown key" + did_you_mean(key, self.keys))
                continue
            try:
                value = value_type.parse(item)
            except Invalid as error:
                report.add(f"{where}.{key}", str(error))
                continue
            if isinstance(value, Path) and not value.is_absolute():
                value = base / value
            values[key] = value
        for field in dataclasses.fields(self.cls):
            key = next((k for k, a in self.renames.items() if a == field.name), field.name)
            required = field.default is dataclasses.MISSING
            if required and key in self.keys and key not in raw:
                report.add(f"{where}.{key}", "required")
        if len(report.lines) > problems:
            return None
        if self.check is not None:
            self.check(values, where, report)
            if len(report.lines) > problems:
                return None
        return self.cls(**{self.attribute(key): value for key, value in values.items()})
