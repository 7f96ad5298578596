"""``edge init``'s pieces: the starter config's text, where its database goes, the commands."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

import pytest

from edge.cli.install import database_for, install_commands, starter_config, unit_program
from edge.config import DEFAULT_DATABASE_PATH, load_config
from edge.deploy import EXAMPLE_CONFIG, SERVICE_UNIT, UDEV_RULES

EXAMPLE = EXAMPLE_CONFIG.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "database",
    [
        Path("/srv/edge/edge.db"),
        Path('/tmp/odd "quoted" \\ dir/edge.db'),
        Path("/tmp/Läger/edge.db"),
    ],
)
def test_the_starter_config_is_the_example_with_the_database_moved(
    tmp_path: Path, database: Path
) -> None:
    text = starter_config(EXAMPLE, database)
    assert tomllib.loads(text)["database"]["path"] == str(database)
    changed = [
        (old, new)
        for old, new in zip(EXAMPLE.splitlines(), text.splitlines(), strict=True)
        if old != new
    ]
    assert changed == [('path = "/var/lib/backflush-edge/edge.db"', changed[0][1])]
    config = tmp_path / "edge.toml"
    config.write_text(text, encoding="utf-8")
    assert load_config(config).database.path == database


def test_an_example_without_its_database_line_is_a_packaging_error() -> None:
    with pytest.raises(RuntimeError, match="expected one line"):
        starter_config(EXAMPLE.replace("/var/lib/backflush-edge/edge.db", "x.db"), Path("/a"))


def test_the_database_goes_under_the_folder_except_in_the_service_config_folder() -> None:
    assert database_for(Path("/home/op/edge-try")) == Path("/home/op/edge-try/edge.db")
    # /etc is read-only to the service (ProtectSystem=strict); its database is the StateDirectory.
    assert database_for(Path("/etc/backflush-edge")) == DEFAULT_DATABASE_PATH
    service = _unit()["Service"]
    assert DEFAULT_DATABASE_PATH.parent == Path("/var/lib") / service["StateDirectory"]


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SERVICE_UNIT)
    return parser


def test_the_install_commands_match_the_packaged_unit() -> None:
    service = _unit()["Service"]
    commands = list(install_commands())
    useradd = next(c for c in commands if "useradd" in c)
    assert useradd.endswith(f" {service['User']}")
    assert service["Group"] == service["User"]  # --user-group makes the group of that name
    assert f"sudo {unit_program()} init /etc/backflush-edge" in commands
    assert service["ExecStart"].startswith(f"{unit_program()} run --config /etc/backflush-edge/")
    assert f"sudo cp {SERVICE_UNIT} /etc/systemd/system/" in commands
    assert f"sudo cp {UDEV_RULES} /etc/udev/rules.d/" in commands
    # Order matters: the unit and rules are in place before systemd and udev reread them.
    assert commands[-3:] == [
        "sudo udevadm control --reload && sudo udevadm trigger",
        "sudo systemctl daemon-reload",
        "sudo systemctl enable --now backflush-edge",
    ]
