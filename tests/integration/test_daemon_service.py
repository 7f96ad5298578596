"""`edge run` as systemd runs it: READY/STATUS/WATCHDOG notifications and SIGHUP reload."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scanner_pty import CEILING_S, Pty, free_port

STATION = '[[station]]\nid = "PACK-1"\nmode = "ship"\n'


def _scanner(scanner_id: str, pty: Pty) -> str:
    return (
        f'[[scanner]]\nid = "{scanner_id}"\nstation = "PACK-1"\nkind = "serial"\n'
        f'url = "{pty.path}"\nterminator = "cr"\n'
        'feedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
    )


def _config(tmp_path: Path, *scanners: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        '[site]\nid = "test"\nnode = "svc"\n\n[database]\npath = "edge.db"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n\n{STATION}\n' + "\n".join(scanners)
    )
    return path


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(0.1)
    yield sock, address
    sock.close()


def _messages(sock: socket.socket, until: str, ceiling: float = CEILING_S) -> list[str]:
    """Collect notifications until one contains ``until``."""
    seen: list[str] = []
    deadline = time.monotonic() + ceiling
    while time.monotonic() < deadline:
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if until in seen[-1]:
            return seen
    raise AssertionError(f"no {until!r} notification; got {seen}")


def _start(config: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )


def test_ready_status_watchdog_and_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, address = notify_socket
    pty = Pty.open()
    try:
        config = _config(tmp_path, _scanner("pack-1", pty))
        process = _start(
            config, tmp_path / "log", {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "2000000"}
        )
        try:
            ready = _messages(sock, "READY=1")
            assert "STATUS=" in ready[-1]
            assert "scanners" in ready[-1]
            _messages(sock, "WATCHDOG=1")
            process.send_signal(signal.SIGTERM)
            _messages(sock, "STOPPING=1")
            assert process.wait(CEILING_S) == 0
        finally:
            process.kill()
            process.wait()
    finally:
        pty.close()


def test_sighup_applies_a_valid_config_and_keeps_the_old_one_otherwise(tmp_path: Path) -> None:
    first, second = Pty.open(), Pty.open()
    log = tmp_path / "log"
    try:
        config = _config(tmp_path, _scanner("pack-1", first))
        process = _start(config, log, {})
        try:
            _wait_for(log, b"scanner pack-1 connected")
            # A broken file is refused; the daemon keeps running on the old one.
            config.write_text(config.read_text() + "\n[mqtt.oops]\n")
            process.send_signal(signal.SIGHUP)
            _wait_for(log, b"config reload refused")
            assert process.poll() is None
            # A valid change adds a scanner, which starts reading.
            config = _config(tmp_path, _scanner("pack-1", first), _scanner("pack-2", second))
            process.send_signal(signal.SIGHUP)
            _wait_for(log, b"scanner pack-2 connected")
            second.type("NOT-A-PART")
            assert second.listen(1) == b"\x15"  # journaled, rejected, bad-read answered
            # A raised free-space floor applies to the next scan.
            floor = 'path = "edge.db"\nmin_free_mb = 1000000'  # 1 TB: more than this disk has
            config.write_text(config.read_text().replace('path = "edge.db"', floor))
            process.send_signal(signal.SIGHUP)
            _wait_for(log, b"config reloaded: 1 stations, 2 scanners", times=2)
            second.type("NOT-A-PART-EITHER")
            assert second.listen(2) == b"\x15\x15"
            _wait_for(log, b"free disk space is below database.min_free_mb")
            # Stopping journals the held scan as rejected rather than waiting for space.
            process.send_signal(signal.SIGTERM)
            assert process.wait(CEILING_S) == 0
            with sqlite3.connect(tmp_path / "edge.db") as db:
                held = db.execute(
                    "SELECT status, reason FROM scans WHERE code = 'NOT-A-PART-EITHER'"
                ).fetchall()
            assert held == [("rejected", "storage-unavailable")]
        finally:
            process.kill()
            process.wait()
    finally:
        first.close()
        second.close()


def _wait_for(log: Path, text: bytes, times: int = 1) -> None:
    deadline = time.monotonic() + CEILING_S
    while log.read_bytes().count(text) < times:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
