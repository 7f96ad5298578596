"""An issue station under `edge run` with a scanner on a pty (SPEC §13): RSN:
then a part is issued and beeps good; a part without RSN: is refused with the
bad-read answer, journaled as reason-required, and moves no stock.
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
def pty() -> Iterator[Pty]:
    opened = Pty.open()
    yield opened
    opened.close()


def test_an_issue_station_needs_rsn_before_a_part(
    tmp_path: Path, pty: Pty, started: list[subprocess.Popen[bytes]]
) -> None:
    config_path = tmp_path / "edge.toml"
    config_path.write_text(
        '[site]\nid = "test"\nnode = "daemon"\n\n[database]\npath = "edge.db"\n\n'
        # Nothing listens on this port: the relay retries in the background.
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        '[[station]]\nid = "LAB-1"\nmode = "issue"\nissue_reasons = ["TEST"]\n\n'
        '[[scanner]]\nid = "lab"\nstation = "LAB-1"\nkind = "serial"\n'
        f'url = "{pty.path}"\nterminator = "cr"\n'
        'feedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
    )
    load_demo_catalog(config_path)
    log = tmp_path / "daemon.log"
    process = start_edge_run(config_path, log, started, scanners=1)

    for index, code in enumerate(["RM-IMPELLER", "RSN:TEST", "RM-IMPELLER"], start=1):
        pty.type(code)
        pty.listen(index)
    process.send_signal(signal.SIGTERM)
    assert process.wait(CEILING_S) == 0, log.read_text()

    assert pty.heard == bytes([NAK, ACK, ACK])
    with sqlite3.connect(tmp_path / "edge.db") as db:
        journal = db.execute("SELECT code, status, reason FROM scans ORDER BY id").fetchall()
        kinds = db.execute("SELECT kind, part, reason FROM transactions").fetchall()
    assert journal == [
        ("RM-IMPELLER", "rejected", "reason-required"),
        ("RSN:TEST", "accepted", None),
        ("RM-IMPELLER", "accepted", None),
    ]
    assert kinds == [("issue", "RM-IMPELLER", "TEST")]
