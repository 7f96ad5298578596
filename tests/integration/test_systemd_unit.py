"""The shipped systemd unit passes `systemd-analyze verify`, starts without a
broker password, keeps its hardening score and keeps the scanners visible."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from edge.runtime.clock import BOOT_ID_ENV

REPO = Path(__file__).resolve().parents[2]
# Where the unit and the udev rules live in the source tree: the one place to
# change when they move.
UNIT_DIR = REPO / "systemd"
UNIT = UNIT_DIR / "backflush-edge.service"
RULES = UNIT_DIR / "99-backflush-edge-scanners.rules"
README = REPO / "README.md"
INSTALLED_EDGE = "/opt/backflush-edge/.venv/bin/edge"
# The score the unit reached (5.8 before hardening); lower is better.
MAX_EXPOSURE = 1.6
CALL_TIMEOUT_S = 120  # a ceiling for a hung process, not a speed requirement

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not here"
)


def _sections(text: str) -> dict[str, dict[str, list[str]]]:
    """Every value of every key, in order: systemd keys repeat (DeviceAllow=)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        sections[section][key.strip()].append(value.strip())
    return sections


def _service() -> dict[str, list[str]]:
    return _sections(UNIT.read_text())["Service"]


def _one(service: dict[str, list[str]], key: str) -> str:
    values = service[key]
    assert len(values) == 1, (key, values)
    return values[0]


def _words(values: list[str]) -> list[str]:
    return [word for value in values for word in value.split()]


def _readme_drop_in() -> str:
    """The drop-in the README tells the reader to add for a broker password."""
    blocks = re.findall(r"```ini\n(.*?)```", README.read_text(), flags=re.DOTALL)
    drop_ins = [block for block in blocks if "LoadCredential=" in block]
    assert len(drop_ins) == 1, drop_ins
    return str(drop_ins[0])


def _unit_here(directory: Path, drop_in: str | None = None) -> Path:
    """The unit in ``directory`` with ExecStart at this environment's edge
    (verify checks that the program exists), and optionally a drop-in."""
    edge = Path(sys.executable).with_name("edge")
    unit = directory / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED_EDGE, str(edge)))
    if drop_in is not None:
        drop_in_dir = directory / f"{UNIT.name}.d"
        drop_in_dir.mkdir()
        (drop_in_dir / "mqtt-password.conf").write_text(drop_in)
    return unit


def _analyze(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=CALL_TIMEOUT_S,
        env=None if env is None else {**os.environ, **env},
    )


def test_unit_is_notify_with_hardening_that_keeps_scanners_visible() -> None:
    service = _service()
    assert _one(service, "Type") == "notify"
    assert _one(service, "Restart") == "on-failure"
    assert set(_words(service["SupplementaryGroups"])) == {"input", "dialout"}
    assert _one(service, "StateDirectory") == "backflush-edge"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "MemoryDenyWriteExecute"):
        assert _one(service, key) == "yes", key
    assert _one(service, "ProtectSystem") == "strict"
    assert _one(service, "CapabilityBoundingSet") == ""
    assert _one(service, "ProtectProc") == "invisible"
    assert "@system-service" in service["SystemCallFilter"]
    families = set(_words(service["RestrictAddressFamilies"]))
    assert {"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"} <= families
    # Scanners are devices: /dev stays, the device controller admits them.
    assert _one(service, "PrivateDevices") == "no"
    assert _one(service, "DevicePolicy") == "closed"
    assert {"char-input rw", "char-ttyACM rw", "char-ttyUSB rw"} <= set(service["DeviceAllow"])


def test_unit_starts_without_a_password_file() -> None:
    service = _service()
    for key in ("LoadCredential", "LoadCredentialEncrypted"):
        assert key not in service, f"{key}= makes the unit refuse to start without its file"


def test_unit_does_not_wait_for_the_deprecated_udev_settle() -> None:
    unit = _sections(UNIT.read_text())["Unit"]
    ordering = _words(unit["After"] + unit["Wants"] + unit["Requires"])
    assert ordering, "the unit orders itself after the network at least"
    assert "systemd-udev-settle.service" not in ordering


def test_unit_hands_the_boot_id_to_the_clock() -> None:
    # ProcSubset=pid hides /proc/sys/kernel/random/boot_id from the daemon.
    service = _service()
    assert _one(service, "ProcSubset") == "pid"
    assert f"{BOOT_ID_ENV}=%b" in _words(service["Environment"])


def test_unit_paths_match_the_readme_install_steps() -> None:
    service = _service()
    command = _one(service, "ExecStart").split()
    assert command[:2] == [INSTALLED_EDGE, "run"]
    config = command[command.index("--config") + 1]
    user = _one(service, "User")
    readme = README.read_text()
    assert "/opt/backflush-edge/.venv" in readme
    assert str(Path(config).parent) in readme
    assert re.search(rf"useradd .*--system.* {re.escape(user)}\n", readme), user
    assert f"sudo -u {user} " in readme


def test_udev_rules_give_scanners_the_units_groups() -> None:
    groups = set(re.findall(r'GROUP="([^"]+)"', RULES.read_text()))
    assert groups, "the rules set the scanners' groups"
    assert groups <= set(_words(_service()["SupplementaryGroups"]))


@needs_analyze
def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    unit = _unit_here(tmp_path)
    result = _analyze(["verify", str(unit)])
    assert result.returncode == 0, result.stderr
    assert UNIT.name not in result.stderr, result.stderr


@needs_analyze
def test_readme_password_drop_in_verifies_with_the_unit(tmp_path: Path) -> None:
    drop_in = _readme_drop_in()
    assert "LoadCredential=mqtt-password:/etc/backflush-edge/mqtt-password" in drop_in
    # A unit search path makes verify read drop-ins beside the unit; a bad key
    # in a copy proves this one is read, so the clean run below means something.
    probe = tmp_path / "probe"
    probe.mkdir()
    _unit_here(probe, drop_in + "NoSuchSetting=1\n")
    seen = _analyze(["verify", UNIT.name], env={"SYSTEMD_UNIT_PATH": f"{probe}:"})
    assert "NoSuchSetting" in seen.stderr, seen.stderr

    clean = tmp_path / "clean"
    clean.mkdir()
    _unit_here(clean, drop_in)
    result = _analyze(["verify", UNIT.name], env={"SYSTEMD_UNIT_PATH": f"{clean}:"})
    assert result.returncode == 0, result.stderr
    assert UNIT.name not in result.stderr, result.stderr


def _offline_security() -> bool:
    if shutil.which("systemd-analyze") is None:
        return False
    return "--offline" in _analyze(["security", "--help"]).stdout


@pytest.mark.skipif(not _offline_security(), reason="no `systemd-analyze security --offline`")
def test_security_exposure_does_not_regress(tmp_path: Path) -> None:
    unit = _unit_here(tmp_path)
    result = _analyze(["security", "--offline=yes", "--no-pager", str(unit)])
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1  # Linux 6.3, <linux/prctl.h>


def _kernel_refuses_exec_gain() -> bool:
    """Whether this kernel can forbid writable-and-executable memory (prctl)."""
    probe = (
        "import ctypes,mmap,sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0: sys.exit(3)\n"
        "mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
    )
    if not hasattr(ctypes, "CDLL") or sys.platform != "linux":
        return False
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False)
    return result.returncode != 0 and b"PermissionError" in result.stderr


@pytest.mark.skipif(not _kernel_refuses_exec_gain(), reason="no PR_SET_MDWE here")
def test_daemon_pipeline_runs_without_writable_executable_memory(tmp_path: Path) -> None:
    # The unit's MemoryDenyWriteExecute=yes, approximated with the kernel's own
    # switch (inherited across exec): the demo runs the real scan pipeline.
    wrapper = (
        "import ctypes,os,sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"assert libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) == 0\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'edge', 'demo'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=CALL_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "backflush" in result.stdout, result.stdout
