"""``edge init``: a starter config that loads, never over an existing one without --force."""

from __future__ import annotations

from pathlib import Path

from edge.deploy import EXAMPLE_CONFIG, SERVICE_UNIT, UDEV_RULES
from tests.e2e.conftest import describe, run_edge


def test_init_writes_a_config_that_check_config_accepts(tmp_path: Path) -> None:
    result = run_edge(["init", "plant"], cwd=tmp_path, config=None)
    assert result.returncode == 0, describe(result)
    config = tmp_path / "plant" / "edge.toml"
    assert f"wrote {config}: the documented example, with its database at " in result.stdout
    for shipped in (EXAMPLE_CONFIG, SERVICE_UNIT, UDEV_RULES):
        assert str(shipped) in result.stdout
    assert "sudo systemctl enable --now backflush-edge" in result.stdout

    checked = run_edge(["check-config", "--config", str(config)], cwd=tmp_path, config=None)
    assert checked.returncode == 0, describe(checked)
    assert f'path = "{tmp_path / "plant" / "edge.db"}"' in config.read_text(encoding="utf-8")


def test_init_defaults_to_the_current_folder(tmp_path: Path) -> None:
    result = run_edge(["init"], cwd=tmp_path, config=None)
    assert result.returncode == 0, describe(result)
    assert f'path = "{tmp_path / "edge.db"}"' in (tmp_path / "edge.toml").read_text()


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text("# mine\n", encoding="utf-8")
    refused = run_edge(["init", str(tmp_path)], cwd=tmp_path, config=None)
    assert refused.returncode == 2, describe(refused)
    assert refused.stderr == f"edge init: {config} exists; pass --force to overwrite it\n"
    assert config.read_text(encoding="utf-8") == "# mine\n"

    forced = run_edge(["init", "--force", str(tmp_path)], cwd=tmp_path, config=None)
    assert forced.returncode == 0, describe(forced)
    assert config.read_text(encoding="utf-8").startswith("# Backflush Edge configuration")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge.toml"]  # no temporary file left
