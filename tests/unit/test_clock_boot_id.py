"""The boot id is the kernel's, whether read from /proc or handed over by systemd."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.runtime.clock import BOOT_ID_ENV, SystemClock

PROC_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

# A child whose /proc/sys is unreadable, as under the unit's ProcSubset=pid:
# the boot id file is made to fail at the point the clock opens it.
_HIDDEN_PROC = """
import pathlib, sys
from edge.runtime import clock
real = pathlib.Path.read_text
def read_text(self, *args, **kwargs):
    if str(self).startswith("/proc/sys/"):
        raise FileNotFoundError(2, "No such file or directory", str(self))
    return real(self, *args, **kwargs)
pathlib.Path.read_text = read_text
print(clock.SystemClock().boot_id())
"""


def _child_boot_id(env_value: str | None) -> str:
    env = {"PATH": "/usr/bin:/bin"}
    if env_value is not None:
        env[BOOT_ID_ENV] = env_value
    result = subprocess.run(
        [sys.executable, "-c", _HIDDEN_PROC], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.mark.skipif(not PROC_BOOT_ID.exists(), reason="no /proc boot id here")
def test_proc_boot_id_is_used_and_a_stale_variable_cannot_override_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BOOT_ID_ENV, "00000000000000000000000000000001")
    assert SystemClock().boot_id() == PROC_BOOT_ID.read_text().strip()


@pytest.mark.skipif(not PROC_BOOT_ID.exists(), reason="no /proc boot id here")
def test_systemd_spelling_of_the_boot_id_matches_proc_when_proc_sys_is_hidden() -> None:
    kernel = PROC_BOOT_ID.read_text().strip()
    # systemd's %b: the same 128 bits, without dashes.
    assert _child_boot_id(kernel.replace("-", "")) == kernel


def test_without_proc_or_variable_the_id_is_per_process() -> None:
    first, second = _child_boot_id(None), _child_boot_id("not-a-boot-id")
    assert first.startswith("process-")
    assert second.startswith("process-")
    assert first != second
