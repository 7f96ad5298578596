"""`edge run` end to end: a subprocess reading two serial scanners on real ptys.

Scans typed at a ship and a scrap station at once are committed, answered
with good/bad-read bytes after the commit, survive SIGTERM (drained) and
kill -9 (every acknowledged scan is in the database).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import load_demo_catalog, start_edge_run
from tests.scanner_pty import CEILING_S, Pty, free_port

REPO = Path(__file__).resolve().parents[2]
ACK, NAK = 0x06, 0x15


@pytest.fixture
def ptys() -> Iterator[dict[str, Pty]]:
    pair = {"PACK-1": Pty.open(), "SCRAP-1": Pty.open()}
    yield pair
    for pty in pair.values():
        pty.close()


@pytest.fixture
def config_path(tmp_path: Path, ptys: dict[str, Pty]) -> Path:
    scanners = "\n".join(
        f'[[scanner]]\nid = "{station.lower()}"\nstation = "{station}"\nkind = "serial"\n'
        f'url = "{pty.path}"\nterminator = "cr"\n'
        'feedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
        for station, pty in ptys.items()
    )
    path = tmp_path / "edge.toml"
    path.write_text(
        '[site]\nid = "test"\nnode = "daemon"\n\n[database]\npath = "edge.db"\n\n'
        # Nothing listens on this port: the relay retries in the background.
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n\n'
        '[[station]]\nid = "SCRAP-1"\nmode = "scrap"\n\n' + scanners
    )
    load_demo_catalog(path)
    return path


def _start(
    config_path: Path, log: Path, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """`edge run` with both scanners open."""
    return start_edge_run(config_path, log, started, scanners=2)


def _journal(config_path: Path) -> list[tuple[str, str, str, str | None]]:
    with sqlite3.connect(config_path.parent / "edge.db") as db:
        return db.execute("SELECT station, code, status, reason FROM scans ORDER BY id").fetchall()


def _balances_match_ledger(config_path: Path) -> None:
    from decimal import Decimal

    from edge.domain.quantity import total

    with sqlite3.connect(config_path.parent / "edge.db") as db:
        ledger: dict[str, list[Decimal]] = {}
        for part, quantity in db.execute("SELECT part, quantity FROM ledger"):
            ledger.setdefault(part, []).append(Decimal(quantity))
        balances = dict(db.execute("SELECT part, on_hand FROM balances"))
    assert ledger
    for part, quantities in ledger.items():
        assert Decimal(balances[part]) == total(quantities), part


def test_two_stations_at_once_then_sigterm_drains(
    config_path: Path,
    ptys: dict[str, Pty],
    tmp_path: Path,
    started: list[subprocess.Popen[bytes]],
) -> None:
    process = _start(config_path, tmp_path / "daemon.log", started)
    codes = {
        "PACK-1": [f"(01)09506000134352(21)SN{i:04d}" for i in range(15)] + ["NOT-A-PART"],
        "SCRAP-1": ["RSN:DAMAGED", "RM-IMPELLER", "FG-PUMP-100", "RM-GASKET"] * 4,
    }

    def operator(station: str) -> None:
        # Like a person: scan, wait for the beep, scan the next label.
        for index, code in enumerate(codes[station], start=1):
            ptys[station].type(code)
            ptys[station].listen(index)

    workers = [threading.Thread(target=operator, args=(s,)) for s in codes]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(CEILING_S * 2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(CEILING_S) == 0, (tmp_path / "daemon.log").read_text()

    assert ptys["PACK-1"].heard == bytes([ACK] * 15 + [NAK])
    # RSN:DAMAGED repeats the same code after other codes: never a duplicate.
    assert ptys["SCRAP-1"].heard == bytes([ACK] * 16)
    journal = _journal(config_path)
    assert len(journal) == 32
    by_station = {s: [row for row in journal if row[0] == s] for s in codes}
    assert [row[1] for row in by_station["PACK-1"]] == codes["PACK-1"]
    assert [row[1] for row in by_station["SCRAP-1"]] == codes["SCRAP-1"]
    assert by_station["PACK-1"][-1][2:] == ("rejected", "unknown-part")
    _balances_match_ledger(config_path)


def test_kill_9_keeps_every_acknowledged_scan(
    config_path: Path,
    ptys: dict[str, Pty],
    tmp_path: Path,
    started: list[subprocess.Popen[bytes]],
) -> None:
    log = tmp_path / "daemon.log"
    process = _start(config_path, log, started)
    pack = ptys["PACK-1"]
    codes = [f"(01)09506000134352(21)K{i:05d}" for i in range(200)]
    for code in codes:  # a burst: the scanner's buffer holds what the daemon has not read
        pack.type(code)
    pack.listen(20)
    process.kill()
    process.wait(CEILING_S)
    pack.listen(len(pack.heard) + 1, ceiling=0.2)  # anything already written back
    acknowledged = bytes(pack.heard)
    assert acknowledged
    assert set(acknowledged) == {ACK}

    journal = _journal(config_path)
    stored = [row[1] for row in journal if row[2] == "accepted"]
    # Feedback follows commit order, which is typing order: every code that
    # was answered is stored, in order, exactly once.
    assert stored[: len(acknowledged)] == codes[: len(acknowledged)]
    assert len(set(stored)) == len(stored)

    # The restarted daemon reads on (first whatever the killed one left in the
    # port's buffer); nothing acknowledged is lost or stored twice.
    process = _start(config_path, log, started)
    pack.type("(01)09506000134352(21)AFTER")
    deadline = time.monotonic() + CEILING_S
    while "(01)09506000134352(21)AFTER" not in [row[1] for row in _journal(config_path)]:
        assert time.monotonic() < deadline, "the restarted daemon did not read on"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(CEILING_S) == 0
    accepted = [row[1] for row in _journal(config_path) if row[2] == "accepted"]
    for code in codes[: len(acknowledged)]:
        assert accepted.count(code) == 1, code
    assert accepted[-1] == "(01)09506000134352(21)AFTER"
    _balances_match_ledger(config_path)
