"""The shipped systemd unit passes `systemd-analyze verify`, starts without a
broker password, keeps its hardening score and keeps the scanners visible."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.deploy import SERVICE_UNIT, UDEV_RULES
from edge.runtime.clock import BOOT_ID_ENV
from tests.broker import Mosquitto, poll, subscribed
from tests.integration import unit_sandbox
from tests.integration.conftest import PREFIX, Plant
from tests.scanner_pty import Pty

REPO = Path(__file__).resolve().parents[2]
UNIT = SERVICE_UNIT
RULES = UDEV_RULES
README = REPO / "README.md"
INSTALLED_EDGE = "/opt/backflush-edge/.venv/bin/edge"
# The score the unit reached (5.8 before hardening); lower is better.
MAX_EXPOSURE = 1.5
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


def _unit_denied_groups() -> list[str]:
    filters = _service()["SystemCallFilter"]
    return [group for value in filters if value.startswith("~") for group in value[1:].split()]


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
    assert {"@privileged", "@resources"} <= set(_unit_denied_groups())
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


needs_sandbox = pytest.mark.skipif(
    not unit_sandbox.available(), reason="no systemd-analyze, libseccomp or PR_SET_MDWE here"
)


@needs_sandbox
def test_sandbox_is_the_units_and_the_descriptor_limit_still_rises() -> None:
    # The unit denies @resources (setrlimit); the daemon's start-up raise of
    # its soft descriptor limit must still work (glibc uses prlimit64).
    raise_limit = (
        "import os, resource\n"
        "assert not os.path.exists('/proc/sys'), 'ProcSubset=pid'\n"
        "assert sorted(os.listdir('/proc')) == ['1', 'self', 'thread-self'], 'ProtectProc'\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n"
        "assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)\n"
        "try:\n"
        "    os.nice(1)\n"
        "except PermissionError:\n"
        "    print('filtered')\n"
    )
    deny = [arg for group in _unit_denied_groups() for arg in ("--deny", group)]
    result = subprocess.run(
        [sys.executable, str(Path(unit_sandbox.__file__)), *deny, "--",
         sys.executable, "-c", raise_limit],
        capture_output=True, text=True, check=False, timeout=CALL_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # nice() is in @resources: refused, which shows the filter is on.
    assert result.stdout.strip() == "filtered", result.stdout


@needs_sandbox
def test_daemon_works_under_the_units_system_call_filter(
    make_broker: Callable[..., Mosquitto],
    make_plant: Callable[..., Plant],
    tmp_path: Path,
) -> None:
    """``edge run`` under the unit's /proc, SystemCallFilter= and
    MemoryDenyWriteExecute=: a scan from a serial scanner and a receipt from
    the command line both reach the broker, the scan carries the kernel's boot
    id (handed over as the unit's %b does), and SIGTERM ends the daemon cleanly."""
    kernel_boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    broker = make_broker()
    plant = make_plant(broker)
    scanner = Pty.open()
    with plant.config_path.open("a") as config:
        config.write(
            f'\n[[scanner]]\nid = "PACK-1-A"\nstation = "PACK-1"\nkind = "serial"\n'
            f'url = "{scanner.path}"\nterminator = "cr"\n'
        )
    log = tmp_path / "edge-run.log"
    deny = [arg for group in _unit_denied_groups() for arg in ("--deny", group)]
    with log.open("ab") as sink:
        daemon = subprocess.Popen(
            [sys.executable, str(Path(unit_sandbox.__file__)), *deny, "--",
             sys.executable, "-m", "edge", "run", "--config", str(plant.config_path)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO),
                 BOOT_ID_ENV: kernel_boot_id.replace("-", "")},
        )  # fmt: skip
    try:
        with subscribed(broker, f"{PREFIX}/event/#") as events:

            def logged(text: str) -> bool:
                assert daemon.poll() is None, log.read_text(errors="replace")
                return text in log.read_text(errors="replace")

            poll(lambda: logged("scanner PACK-1-A connected:"), "the scanner connected")
            scanner.type("BOLT-M6")
            poll(lambda: [e for e in events.events() if e.get("scanner") == "PACK-1-A"] or None,
                 "the scan's backflush, published by the sandboxed daemon's relay")  # fmt: skip
            received = subprocess.run(
                [sys.executable, "-m", "edge", "receive", "NUT-M6", "5",
                 "--config", str(plant.config_path)],
                capture_output=True, text=True, check=False, timeout=CALL_TIMEOUT_S,
            )  # fmt: skip
            assert received.returncode == 0, received.stderr
            poll(lambda: [e for e in events.events() if e["type"] == "receipt"] or None,
                 "the receipt, published by the sandboxed daemon's relay")  # fmt: skip
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(CALL_TIMEOUT_S) == 0, log.read_text(errors="replace")
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text
        assert "Operation not permitted" not in text, text
        with sqlite3.connect(plant.directory / "edge.db") as db:
            boot_ids = {row[0] for row in db.execute("SELECT boot_id FROM scans")}
        assert boot_ids == {kernel_boot_id}
    finally:
        scanner.close()
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(CALL_TIMEOUT_S)


@needs_sandbox
def test_clock_synced_is_unknown_not_true_when_adjtimex_is_refused() -> None:
    # ProtectClock= (and @privileged) refuse adjtimex even for reading; the
    # status must then not claim a synchronised clock it cannot see.
    deny = [arg for group in _unit_denied_groups() for arg in ("--deny", group)]
    show = "from edge.runtime.clock import clock_synced; print(clock_synced())"
    result = subprocess.run(
        [sys.executable, str(Path(unit_sandbox.__file__)), *deny, "--",
         sys.executable, "-c", show],
        capture_output=True, text=True, check=False, timeout=CALL_TIMEOUT_S,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    timesyncd_says = Path("/run/systemd/timesync/synchronized").exists()
    assert result.stdout.strip() == ("True" if timesyncd_says else "None")
