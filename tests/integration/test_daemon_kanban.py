"""Kanban cards under `edge run` with scanners on ptys (SPEC §13): a card scanned at a
ship station empties it and posts the reconciliation (``kanban_reconcile = "adjust"``);
at a receive station the card is refilled; what cannot be is refused with the bad-read
answer and moves nothing. Master data goes in through `edge import`, as on a real box.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import start_edge_run
from tests.scanner_pty import CEILING_S, Pty, free_port

ACK, NAK = 0x06, 0x15
FILES = {
    "items": "part,description,uom,stocked,reorder_point,aliases,replenishment\n"
    "PUMP,Pump,EA,false,,,\nSCREW,Screw M4,EA,true,50,,kanban\n",
    "bom": "parent,component,qty_per,scrap_pct\nPUMP,SCREW,4,0\n",
    "stock": "part,on_hand\nSCREW,200\n",
    "cards": "card,part,container_qty,location\nKB-A,SCREW,100,rack 3\nKB-B,SCREW,100,rack 3\n",
}


@pytest.fixture
def ptys() -> Iterator[tuple[Pty, Pty]]:
    pack, dock = Pty.open(), Pty.open()
    yield pack, dock
    pack.close()
    dock.close()


def edge(config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "edge", *args, "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=CEILING_S,
    )  # fmt: skip
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def test_a_card_empties_at_a_ship_station_and_is_refilled_at_a_receive_station(
    tmp_path: Path, ptys: tuple[Pty, Pty], started: list[subprocess.Popen[bytes]]
) -> None:
    pack, dock = ptys
    config = tmp_path / "edge.toml"
    scanner = (
        '[[scanner]]\nid = "{id}"\nstation = "{station}"\nkind = "serial"\nurl = "{url}"\n'
        'terminator = "cr"\nfeedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
        # A card scanned twice in a row is the test, not a double read.
        "debounce_ms = 0\n\n"
    )
    config.write_text(
        '[site]\nid = "test"\nnode = "daemon"\n\n[database]\npath = "edge.db"\n\n'
        # Nothing listens on this port: the relay retries in the background.
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        '[inventory]\nkanban_reconcile = "adjust"\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n\n'
        '[[station]]\nid = "DOCK-1"\nmode = "receive"\n\n'
        + scanner.format(id="pack", station="PACK-1", url=pack.path)
        + scanner.format(id="dock", station="DOCK-1", url=dock.path)
    )
    for kind, text in FILES.items():
        (tmp_path / f"{kind}.csv").write_text(text)
        edge(config, "import", kind, str(tmp_path / f"{kind}.csv"))
    log = tmp_path / "daemon.log"
    process = start_edge_run(config, log, started, scanners=2)

    # Each code waits for its answer, so the two stations' scans commit in this order.
    for station, code in [(pack, "QTY:23"), (pack, "PUMP"), (pack, "KB-A"), (pack, "KB-A"),
                          (dock, "SCREW"), (dock, "KB-A"), (dock, "KB-A")]:  # fmt: skip
        station.type(code)
        station.listen(len(station.heard) + 1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(CEILING_S) == 0, log.read_text()

    assert pack.heard == bytes([ACK, ACK, ACK, NAK])
    assert dock.heard == bytes([NAK, ACK, NAK])
    with sqlite3.connect(tmp_path / "edge.db") as db:
        journal = db.execute("SELECT code, status, reason FROM scans ORDER BY id").fetchall()
        ledger = db.execute(
            "SELECT t.kind, l.kind, l.quantity FROM ledger l JOIN transactions t ON t.id = l.txn_id"
            " WHERE l.part = 'SCREW' ORDER BY l.id"
        ).fetchall()
        on_hand = db.execute("SELECT on_hand FROM balances WHERE part = 'SCREW'").fetchone()
        cards = db.execute("SELECT card, state FROM cards ORDER BY card").fetchall()
        payloads = [json.loads(p, parse_float=Decimal) for (p,) in db.execute(
            "SELECT payload FROM outbox WHERE type IN ('kanban-empty', 'receipt') ORDER BY seq"
        )]  # fmt: skip
    assert [row[1:] for row in journal] == [
        ("accepted", None), ("accepted", None), ("accepted", None),
        ("rejected", "card-already-empty"), ("rejected", "not-a-card"),
        ("accepted", None), ("rejected", "card-already-full"),
    ]  # fmt: skip
    assert ledger == [
        ("opening", "opening", "200"), ("backflush", "backflush", "-92"),
        ("kanban-empty", "kanban-adjust", "-8"), ("receipt", "receipt", "100"),
    ]  # fmt: skip
    assert on_hand == ("200",)
    assert cards == [("KB-A", "full"), ("KB-B", "full")]
    empty, receipt = payloads
    assert (empty["card"], empty["consumed"], empty["reconciliation"], empty["adjusted"]) == (
        "KB-A", 92, -8, True,
    )  # fmt: skip
    assert (empty["station"], empty["on_hand"]) == ("PACK-1", 100)
    assert (receipt["card"], receipt["quantity"], receipt["on_hand"]) == ("KB-A", 100, 200)
