"""The shipped systemd unit passes `systemd-analyze verify` and keeps its promises."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.deploy import SERVICE_UNIT

UNIT = SERVICE_UNIT


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_unit_is_notify_with_hardening_that_keeps_scanners_visible() -> None:
    service = _unit()["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert set(service["SupplementaryGroups"].split()) == {"input", "dialout"}
    assert service["StateDirectory"] == "backflush-edge"
    assert service["LoadCredential"].startswith("mqtt-password:")
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert service[key] == "yes"
    assert service["ProtectSystem"] == "strict"
    families = set(service["RestrictAddressFamilies"].split())
    assert {"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"} <= families
    assert "PrivateDevices" not in service
    assert "DevicePolicy" not in service


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at this environment's edge.
    edge = Path(sys.executable).with_name("edge")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/backflush-edge/.venv/bin/edge", str(edge)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "backflush-edge.service" not in result.stderr, result.stderr
