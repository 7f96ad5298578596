"""The boot id is the kernel's, whether read from /proc or handed over by systemd."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from edge.runtime.clock import BOOT_ID_ENV, SystemClock, read_boot_id

PROC_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
KERNEL_SPELLING = "0b5b8e8c-6f1e-4b7e-9a51-3c2d1e0f9a77\n"


@pytest.fixture
def hidden_proc(tmp_path: Path) -> Path:
    """Where the boot id file would be, absent: /proc/sys under ProcSubset=pid."""
    return tmp_path / "proc" / "sys" / "kernel" / "random" / "boot_id"


def test_proc_comes_first_so_a_stale_variable_cannot_override_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = tmp_path / "boot_id"
    proc.write_text(KERNEL_SPELLING)
    monkeypatch.setenv(BOOT_ID_ENV, "00000000000000000000000000000001")
    assert read_boot_id(proc) == KERNEL_SPELLING.strip()


def test_systemd_spelling_is_read_in_procs_spelling_when_proc_sys_is_hidden(
    hidden_proc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemd's %b: the same 128 bits, without dashes.
    monkeypatch.setenv(BOOT_ID_ENV, KERNEL_SPELLING.strip().replace("-", "").upper())
    assert read_boot_id(hidden_proc) == KERNEL_SPELLING.strip()


def test_nothing_readable_gives_none(hidden_proc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BOOT_ID_ENV, "not-a-boot-id")
    assert read_boot_id(hidden_proc) is None
    monkeypatch.delenv(BOOT_ID_ENV)
    assert read_boot_id(hidden_proc) is None


@pytest.mark.skipif(not PROC_BOOT_ID.exists(), reason="no /proc boot id here")
def test_the_clock_carries_this_machines_boot_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BOOT_ID_ENV, raising=False)
    boot_id = SystemClock().boot_id()
    assert boot_id == PROC_BOOT_ID.read_text().strip()
    assert str(uuid.UUID(boot_id)) == boot_id
