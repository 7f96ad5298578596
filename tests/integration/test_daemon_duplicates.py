"""A double read under `edge run` (SPEC §14): journaled as duplicate and ignored; a serial
scanner that waits for the host's answer (``feedback_duplicate = "good"``) hears good read
for it, any other hears nothing, so each answer still belongs to its own scan.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import load_demo_catalog, start_edge_run
from tests.scanner_pty import CEILING_S, Pty, free_port

ACK, NAK = 0x06, 0x15


@pytest.fixture
def ptys() -> Iterator[tuple[Pty, Pty]]:
    waiting, plain = Pty.open(), Pty.open()
    yield waiting, plain
    waiting.close()
    plain.close()


def test_a_double_read_is_answered_only_where_the_scanner_waits_for_it(
    tmp_path: Path, ptys: tuple[Pty, Pty], started: list[subprocess.Popen[bytes]]
) -> None:
    waiting, plain = ptys
    scanner = (
        '[[scanner]]\nid = "{id}"\nstation = "PACK-1"\nkind = "serial"\nurl = "{url}"\n'
        'terminator = "cr"\nfeedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
        "debounce_ms = 60000\n{extra}\n"
    )
    config = tmp_path / "edge.toml"
    config.write_text(
        '[site]\nid = "test"\nnode = "daemon"\n\n[database]\npath = "edge.db"\n\n'
        # Nothing listens on this port: the relay retries in the background.
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n\n'
        + scanner.format(id="waiting", url=waiting.path, extra='feedback_duplicate = "good"\n')
        + scanner.format(id="plain", url=plain.path, extra="")
    )
    load_demo_catalog(config)
    log = tmp_path / "daemon.log"
    process = start_edge_run(config, log, started, scanners=2)

    codes = ("FG-PUMP-100", "FG-PUMP-100", "NOT-A-PART")
    # Answers heard after each code: the plain scanner's double read gets none.
    for pty, heard in ((waiting, (1, 2, 3)), (plain, (1, 1, 2))):
        for code, count in zip(codes, heard, strict=True):
            pty.type(code)
            pty.listen(count)
    process.send_signal(signal.SIGTERM)
    assert process.wait(CEILING_S) == 0, log.read_text()

    assert waiting.heard == bytes([ACK, ACK, NAK])
    assert plain.heard == bytes([ACK, NAK])
    with sqlite3.connect(tmp_path / "edge.db") as db:
        journal = db.execute("SELECT scanner, status FROM scans ORDER BY id").fetchall()
        shipped = db.execute(
            "SELECT count(*) FROM transactions WHERE kind = 'backflush'"
        ).fetchone()
    assert journal == [
        ("waiting", "accepted"), ("waiting", "duplicate"), ("waiting", "rejected"),
        ("plain", "accepted"), ("plain", "duplicate"), ("plain", "rejected"),
    ]  # fmt: skip
    assert shipped == (2,)  # a double read ships nothing, answered or not
