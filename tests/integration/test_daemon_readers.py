"""The daemon's readers: many serial scanners on one loop, a reload that changes them, a stop.

The daemon runs on a thread of the test with a real SQLite file and real
ptys, without a relay. Every wait polls with a generous ceiling; nothing
asserts how fast anything happened.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.runtime.daemon import Daemon
from tests.broker import poll
from tests.integration.conftest import load_demo_catalog
from tests.scanner_pty import CEILING_S, Pty, free_port

SHIP = "(01)09506000134352(21)"  # FG-PUMP-100 in the demo catalog
ACK, BEL, NAK = b"\x06", b"\x07", b"\x15"
SCANNERS = 30


def _scanner(scanner_id: str, pty: Pty, feedback_good: str = "\\u0006") -> str:
    return (
        f'[[scanner]]\nid = "{scanner_id}"\nstation = "PACK-1"\nkind = "serial"\n'
        f'url = "{pty.path}"\nterminator = "cr"\n'
        f'feedback_good = "{feedback_good}"\nfeedback_bad = "\\u0015"\n'
    )


def _write_config(path: Path, scanners: list[str], min_free_mb: float = 0) -> None:
    path.write_text(
        '[site]\nid = "plant-1"\nnode = "readers"\n\n[database]\npath = "edge.db"\n'
        f"min_free_mb = {min_free_mb}\n\n"
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n\n' + "\n".join(scanners)
    )


def _journal(directory: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(directory / "edge.db") as db:
        return db.execute("SELECT scanner, code FROM scans ORDER BY id").fetchall()


@pytest.fixture
def ptys() -> Iterator[list[Pty]]:
    opened = [Pty.open() for _ in range(SCANNERS + 1)]
    yield opened
    for pty in opened:
        pty.close()


@contextmanager
def _running(config: Path) -> Iterator[tuple[Daemon, list[int]]]:
    """The daemon on a thread of the test (no relay); stopped and joined on the way out."""
    daemon = Daemon(config, relay_factory=None)
    status: list[int] = []  # its exit status, once it returned
    thread = threading.Thread(target=lambda: status.append(daemon.run()), name="daemon")
    thread.start()
    try:
        yield daemon, status
    finally:
        daemon.stop.set()
        thread.join(CEILING_S * 2)
    assert not thread.is_alive(), "the daemon did not stop"


def _connected(daemon: Daemon, scanner_id: str) -> bool:
    running = daemon.scanners.get(scanner_id)
    return running is not None and running.state == "connected"


def _unlocked(pty: Pty) -> bool:
    """True when no reader holds the device's lock any more."""
    fd = os.open(pty.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_many_scanners_read_reload_and_stop(tmp_path: Path, ptys: list[Pty]) -> None:
    config = tmp_path / "edge.toml"
    first, spare = ptys[:SCANNERS], ptys[SCANNERS]
    _write_config(config, [_scanner(f"a{i:02d}", pty) for i, pty in enumerate(first)])
    load_demo_catalog(config)

    with _running(config) as (daemon, status):
        poll(lambda: all(_connected(daemon, f"a{i:02d}") for i in range(SCANNERS)), "all open")
        for index, pty in enumerate(first):
            pty.type(f"{SHIP}A{index:02d}")
        for pty in first:
            assert pty.listen(1) == ACK  # each answered once, on its own pty

        # a00 goes, a01 gets another good-read byte, b00 comes on the spare pty
        _write_config(
            config,
            [_scanner("a01", first[1], "\\u0007")]
            + [_scanner(f"a{i:02d}", pty) for i, pty in enumerate(first) if i > 1]
            + [_scanner("b00", spare)],
        )
        daemon.reload_requested.set()
        poll(lambda: _connected(daemon, "b00") and _connected(daemon, "a01"), "the reload")
        assert "a00" not in daemon.scanners
        poll(lambda: _unlocked(first[0]), "a00's device to be released")
        first[0].type(f"{SHIP}GONE")
        first[1].type(f"{SHIP}BELL")
        spare.type(f"{SHIP}NEW")
        assert first[1].listen(2) == ACK + BEL
        assert spare.listen(1) == ACK
    assert status == [0]
    assert bytes(first[0].heard) == ACK  # nothing after it was removed
    journal = _journal(tmp_path)
    assert sorted(journal[:SCANNERS]) == [(f"a{i:02d}", f"{SHIP}A{i:02d}") for i in range(SCANNERS)]
    assert sorted(journal[SCANNERS:]) == [("a01", f"{SHIP}BELL"), ("b00", f"{SHIP}NEW")]
    assert all(_unlocked(pty) for pty in ptys)  # every port closed on the way out


def test_a_reloaded_free_space_floor_applies_to_the_next_scan(
    tmp_path: Path, ptys: list[Pty]
) -> None:
    config = tmp_path / "edge.toml"
    pty = ptys[0]
    _write_config(config, [_scanner("s1", pty)])
    load_demo_catalog(config)
    with _running(config) as (daemon, status):
        poll(lambda: _connected(daemon, "s1"), "the scanner to open")
        pty.type(f"{SHIP}ROOM")
        assert pty.listen(1) == ACK
        # A floor of 1 TB: more than this disk has.
        _write_config(config, [_scanner("s1", pty)], min_free_mb=1_000_000)
        daemon.reload_requested.set()
        poll(lambda: daemon.config.database.min_free_mb == 1_000_000, "the reload")
        pty.type(f"{SHIP}FULL")  # refused at once, kept in memory
        assert pty.listen(2) == ACK + NAK
        _write_config(config, [_scanner("s1", pty)])
        daemon.reload_requested.set()
        poll(lambda: daemon.config.database.min_free_mb == 0, "the second reload")
        pty.type(f"{SHIP}AGAIN")
        assert pty.listen(3) == ACK + NAK + ACK
    assert status == [0]
    # The refused scan was journaled as soon as writes were allowed again, never lost.
    assert [code for _, code in _journal(tmp_path)] == [
        f"{SHIP}ROOM",
        f"{SHIP}FULL",
        f"{SHIP}AGAIN",
    ]
