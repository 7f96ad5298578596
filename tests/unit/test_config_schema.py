"""The config schema: each key declared once, as a settings field, and the rest derived."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from edge.config import ScannerConfig, StationConfig, StationMode, load_config
from edge.config.problems import Invalid, Report
from edge.config.schema import Table, declared, setting, settings_table
from edge.config.settings import MQTT_TABLE, SCANNER_TABLES, STATION_TABLE
from edge.config.values import Bool, Choice, Int, Quantity, Text
from edge.domain.model import Station
from edge.runtime.bootstrap import station_from_config
from hardware.serial.framing import TERMINATORS


@settings_table
class Feeder:
    """A table made up for these tests: one key of each sort."""

    id: str = setting(Text())
    rate: int = setting(Int(1, 100), default=10)
    reverse: bool = setting(Bool(), default=False, toml="backwards")
    belt: int | None = setting(Int(1, 9), default=None, kinds=("belt",))


def parse(table: Table[Feeder], raw: dict[str, object]) -> tuple[Feeder | None, list[str]]:
    report = Report("feeder.toml")
    return table.parse(raw, "feeder", report, Path("/etc")), report.lines


def test_a_key_declared_once_is_parsed_defaulted_and_required():
    table = Table(Feeder)

    assert list(table.keys) == ["id", "rate", "backwards", "belt"]
    assert parse(table, {"id": "F1", "backwards": True}) == (
        Feeder(id="F1", rate=10, reverse=True),
        [],
    )
    assert parse(table, {"rate": 0}) == (
        None,
        [
            "feeder.toml: feeder.rate: must be between 1 and 100, got 0",
            "feeder.toml: feeder.id: required",
        ],
    )
    assert parse(table, {"id": "F1", "backward": True})[1] == [
        "feeder.toml: feeder.backward: unknown key (did you mean 'backwards'?)"
    ]


def test_a_kind_picks_its_keys_and_the_keys_of_every_kind():
    assert list(Table(Feeder, kind="belt").keys) == ["id", "rate", "backwards", "belt"]
    assert list(Table(Feeder, kind="chute").keys) == ["id", "rate", "backwards"]


def test_a_field_without_a_setting_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Loose:
        id: str

    with pytest.raises(TypeError, match="not declared with setting"):
        Table(Loose)


def test_two_fields_for_one_toml_key_are_refused():
    @settings_table
    class Twice:
        a: int = setting(Int(0), default=0, toml="b")
        b: int = setting(Int(0), default=0)

    with pytest.raises(TypeError, match="two fields are the TOML key 'b'"):
        Table(Twice)


def test_the_toml_suffix_is_two_settings():
    evdev, serial = SCANNER_TABLES["evdev"], SCANNER_TABLES["serial"]

    assert evdev.attribute("suffix") == "suffix"
    assert serial.attribute("suffix") == "scan_suffix"
    assert "url" not in evdev.keys
    assert "grab" not in serial.keys
    assert {*evdev.keys, *serial.keys} == {
        declared(ScannerConfig, field.name).toml or field.name
        for field in dataclasses.fields(ScannerConfig)
    }


def test_mqtt_keys_are_the_fields_in_declaration_order():
    assert list(MQTT_TABLE.keys) == [field.name for field in dataclasses.fields(MQTT_TABLE.cls)]


def test_station_config_is_the_domains_station_field_for_field():
    config_fields = [(f.name, f.default) for f in dataclasses.fields(StationConfig)]
    domain_fields = [(f.name, f.default) for f in dataclasses.fields(Station)]

    assert config_fields == domain_fields
    assert list(STATION_TABLE.keys) == [name for name, _ in domain_fields]


def test_a_loaded_station_becomes_the_domains_station(tmp_path: Path):
    path = tmp_path / "edge.toml"
    path.write_text(
        "[site]\nid = 'p'\nnode = 'n'\n"
        "[[station]]\nid = 'SCRAP-1'\nmode = 'scrap'\nmax_qty = 5\nscrap_reasons = ['A']\n"
        "[[station]]\nid = 'PACK-1'\nmode = 'ship'\n",
        encoding="utf-8",
    )
    scrap, ship = (station_from_config(s) for s in load_config(path).stations)

    assert scrap == Station("SCRAP-1", StationMode.SCRAP, max_qty=Decimal(5), scrap_reasons=("A",))
    assert scrap.mode is StationMode.SCRAP
    assert ship == Station("PACK-1", StationMode.SHIP)


def test_a_choice_of_enum_members_gives_the_member_and_words_messages_by_value():
    mode = Choice(StationMode)

    assert mode.parse("build") is StationMode.BUILD
    with pytest.raises(Invalid) as caught:
        mode.parse("buld")
    assert (
        str(caught.value)
        == "'buld' is not one of ship, scrap, build, issue, receive (did you mean 'build'?)"
    )
    assert declared(StationConfig, "mode").value_type.parse("ship") is StationMode.SHIP


def test_terminators_and_quantities_are_the_hardwares_and_the_domains():
    terminator = SCANNER_TABLES["serial"].keys["terminator"]

    assert isinstance(terminator, Choice)
    assert terminator.choices == TERMINATORS
    assert Quantity().parse("0.000001") == Decimal("0.000001")
    with pytest.raises(Invalid, match="is not an exact decimal"):
        Quantity().parse("0.0000001")
