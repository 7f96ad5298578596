"""The schema of a TOML table, derived from the dataclass it builds.

Each config key is declared once, as a field of a settings dataclass::

    @settings_table
    class MqttConfig:
        port: int = setting(Int(1, 65535), default=1883)

The field's name is the TOML key (unless ``toml=`` names another), its metadata
holds the value type that parses and checks the key, and its default is what a
key left out of the file takes; a field without a default is a required key. A
:class:`Table` reads its keys from ``dataclasses.fields`` in declaration order,
which is also the order ``format_config`` prints them in.

A table reads one parsed TOML table into its dataclass: it rejects unknown keys
with a hint, parses each known key with its value type, makes a relative path
relative to the config file's directory, names every required key that is
missing, then runs the table's cross-key rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, dataclass_transform

from edge.config.problems import Invalid, Report, did_you_mean
from edge.config.values import Value, toml_type

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Check", "Setting", "Table", "declared", "setting", "settings_table"]

_D = TypeVar("_D", bound="DataclassInstance")
_C = TypeVar("_C")

_METADATA_KEY: Final = "edge.config.setting"

# A table's cross-key rule: sees the parsed values of the keys given (by TOML key),
# may fill in defaults that depend on other keys, reports problems.
Check = Callable[[dict[str, Any], str, Report], None]


@dataclass(frozen=True)
class Setting:
    """What a settings field declares beside its type and default."""

    value_type: Value[Any]
    toml: str | None = None  # the TOML key, when it is not the field's name
    kinds: tuple[str, ...] | None = None  # the kinds of table that have the key; None: all


def setting(
    value_type: Value[Any],
    *,
    default: Any = dataclasses.MISSING,
    toml: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field that is a config key; leave ``default`` out for a required key.

    ``default`` is keyword-only because type checkers read it by name (PEP 681) to
    know which constructor arguments may be left out.
    """
    declaration = Setting(value_type, toml, kinds)
    return dataclasses.field(default=default, metadata={_METADATA_KEY: declaration})


@dataclass_transform(frozen_default=True, field_specifiers=(setting,))
def settings_table(cls: type[_C]) -> type[_C]:
    """A frozen dataclass whose fields are declared with :func:`setting`."""
    return dataclass(frozen=True)(cls)


def declared(cls: type[DataclassInstance], name: str) -> Setting:
    """The setting that field ``name`` of ``cls`` declares."""
    for field in dataclasses.fields(cls):
        if field.name == name:
            return _declaration(field)
    raise AttributeError(f"{cls.__name__} has no field {name!r}")


def _declaration(field: dataclasses.Field[Any]) -> Setting:
    declaration = field.metadata.get(_METADATA_KEY)
    if not isinstance(declaration, Setting):
        raise TypeError(f"field {field.name} is not declared with setting()")
    return declaration


class Table(Generic[_D]):
    """The schema of one TOML table, building ``cls``.

    ``kind`` picks the keys of one kind of table (a serial or an evdev scanner) out
    of a dataclass that holds the settings of both.
    """

    def __init__(
        self, cls: type[_D], *, kind: str | None = None, check: Check | None = None
    ) -> None:
        self.cls = cls
        self.check = check
        self.keys: dict[str, Value[Any]] = {}
        self._attributes: dict[str, str] = {}
        self._required: list[str] = []
        for field in dataclasses.fields(cls):
            declaration = _declaration(field)
            if kind is not None and kind not in (declaration.kinds or (kind,)):
                continue
            key = declaration.toml or field.name
            if key in self.keys:
                raise TypeError(f"{cls.__name__}: two fields are the TOML key {key!r}")
            self.keys[key] = declaration.value_type
            self._attributes[key] = field.name
            if field.default is dataclasses.MISSING:
                self._required.append(key)

    def attribute(self, key: str) -> str:
        """The dataclass attribute a TOML key sets."""
        return self._attributes[key]

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
        for key in self._required:
            if key not in raw:
                report.add(f"{where}.{key}", "required")
        if len(report.lines) > problems:
            return None
        if self.check is not None:
            self.check(values, where, report)
            if len(report.lines) > problems:
                return None
        return self.cls(**{self.attribute(key): value for key, value in values.items()})
