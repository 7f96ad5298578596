"""Another process holds the database's write lock for longer than the busy timeout.

A lock is nothing the operator can see, so a valid scan is never refused
for it: ``edge run`` keeps the scans it could not commit, gives no bad-read
byte, and commits and answers them (good-read) as soon as the lock is
released. Scans read meanwhile queue behind them; nothing is lost or
journaled twice, and the journal, ledger and events agree afterwards.

The holder is a separate Python process with its own ``sqlite3`` connection
in ``BEGIN IMMEDIATE``, as an import or a backup would be.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from edge.store.database import BUSY_TIMEOUT_MS
from tests.broker import Mosquitto, poll, subscribed
from tests.faults.conftest import (
    ACK,
    PREFIX,
    SHIP_GTIN,
    EdgeRun,
    Line,
    PtyScanner,
    assert_balances_equal_ledger,
    assert_every_event_delivered,
    assert_scans_and_ledger_agree,
)

WAITING = "another process holds the database's write lock"
RELEASED = (
    r"the write lock was released: \d+ waiting scan\(s\) committed, "
    r"the oldest read [0-9.]+ s before"
)

# Takes the write lock, says so, and keeps it until its stdin closes.
HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


class LockHolder:
    def __init__(self, database: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(30) == 0


def test_a_lock_held_past_the_busy_timeout_delays_scans_and_refuses_none(
    make_broker: Callable[..., Mosquitto],
    pack_scanner: PtyScanner,
    make_line: Callable[..., Line],
    daemons: Callable[[Line], EdgeRun],
) -> None:
    broker = make_broker()
    line = make_line(broker, [pack_scanner])
    codes = [f"(01){SHIP_GTIN}(21)L{number:04d}" for number in range(1, 7)]
    with subscribed(broker, f"{PREFIX}/event/#", client_id="erp") as erp:
        run = daemons(line)
        pack_scanner.type(codes[0])
        assert pack_scanner.wait_heard(1) == bytes([ACK])

        holder = LockHolder(line.database)
        pack_scanner.type(codes[1])
        # The writer gives up on the lock only after the busy timeout; then it waits on.
        run.wait_log(WAITING, ceiling=BUSY_TIMEOUT_MS / 1000 + 20)
        for code in codes[2:]:
            pack_scanner.type(code)
        pack_scanner.hear(timeout=0.5)
        assert pack_scanner.heard_count() == 1, "a scan was answered while the lock was held"
        assert line.last_scan_id() == 1

        holder.release()
        heard = pack_scanner.wait_heard(len(codes), ceiling=BUSY_TIMEOUT_MS / 1000 + 20)
        assert heard == bytes([ACK]) * len(codes)
        run.wait_log(RELEASED)
        assert run.count("scans are refused") == 0
        # The relay's answers wait for the lock too: written later, no reconnect.
        assert run.count("relay failure") == 0, run.log_text()
        poll(lambda: line.unpublished() == 0, "every event marked published", 60)
        events = erp.wait_for_seqs(line.last_seq(), ceiling=60)
        assert run.terminate() == 0, run.log_text()

    journal = line.journal()
    assert [row[2] for row in journal] == codes
    assert {(row[3], row[4]) for row in journal} == {("accepted", None)}
    assert_scans_and_ledger_agree(line)
    assert_balances_equal_ledger(line)
    assert_every_event_delivered(line, events)
