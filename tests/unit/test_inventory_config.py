"""The [inventory] table: the domain's InventoryPolicy from the config file, and what
check-config says of it and of receive stations."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from edge.config import ConfigError, InventoryConfig, config_warnings, format_config, load_config
from edge.domain.model import DEFAULT_POLICY, InventoryPolicy
from edge.runtime.bootstrap import policy_from_config

SITE = '[site]\nid = "plant-1"\nnode = "pack-edge-01"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(SITE + text, encoding="utf-8")
    return path


def test_left_out_the_table_takes_the_domains_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.inventory == InventoryConfig()
    assert policy_from_config(config.inventory) == DEFAULT_POLICY
    assert (DEFAULT_POLICY.kanban_reconcile, DEFAULT_POLICY.count_tolerance_pct) == (
        "report", Decimal(5)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('kanban_reconcile = "adjust"\n', InventoryPolicy("adjust", Decimal(5))),
        ("count_tolerance_pct = 0\n", InventoryPolicy("report", Decimal(0))),
        ("count_tolerance_pct = 2.5\n", InventoryPolicy("report", Decimal("2.5"))),
        ('count_tolerance_pct = "12.125"\n', InventoryPolicy("report", Decimal("12.125"))),
        ("count_tolerance_pct = 1000\n", InventoryPolicy("report", Decimal(1000))),
    ],
)
def test_the_keys_become_the_policy_exactly(
    tmp_path: Path, toml: str, expected: InventoryPolicy
) -> None:
    config = load_config(write(tmp_path, "[inventory]\n" + toml))
    assert policy_from_config(config.inventory) == expected


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'kanban_reconcile = "adjst"\n',
            "inventory.kanban_reconcile: 'adjst' is not one of report, adjust "
            "(did you mean 'adjust'?)",
        ),
        ("kanban_reconcile = true\n", "inventory.kanban_reconcile: expected one of report"),
        ("count_tolerance_pct = -1\n", "inventory.count_tolerance_pct: must be between 0 and 1000"),
        ("count_tolerance_pct = 1000.5\n", "inventory.count_tolerance_pct: must be between 0"),
        ("count_tolerance_pct = 1e2\n", "inventory.count_tolerance_pct: '1e2' is not an exact"),
        ("count_tolerance_pct = 0.1234567\n", "inventory.count_tolerance_pct: '0.1234567' is not"),
        ("count_tolerance_pct = false\n", "inventory.count_tolerance_pct: expected a quantity"),
        ("tolerance = 5\n", "inventory.tolerance: unknown key"),
    ],
)
def test_wrong_values_are_refused_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, "[inventory]\n" + toml))
    assert message in str(refused.value)


def test_a_misspelt_table_gets_a_hint(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"inventry: unknown table \(did you mean 'inventory'\?\)"
    ):
        load_config(write(tmp_path, "[inventry]\ncount_tolerance_pct = 5\n"))


def test_check_config_prints_the_table_and_it_loads_back(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[inventory]\nkanban_reconcile = "adjust"\n'))
    text = format_config(config)
    assert '[inventory]\nkanban_reconcile = "adjust"\ncount_tolerance_pct = 5\n' in text
    again = tmp_path / "again.toml"
    again.write_text(text, encoding="utf-8")
    assert load_config(again).inventory == config.inventory


def test_reasons_at_a_receive_station_are_warned_about(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[[station]]\nid = "DOCK-1"\nmode = "receive"\nscrap_reasons = ["X"]\n'
            'issue_reasons = ["Y"]\n',
        )
    )
    warnings = [line.split(": ", 1)[1] for line in config_warnings(config)]
    assert "station[1].scrap_reasons: has no effect at a receive station" in warnings
    assert "station[1].issue_reasons: has no effect at a receive station" in warnings
