"""A large master-data import while ``edge run`` takes scans: every scan keeps its feedback.

The import validates outside the write lock and applies in one short
transaction, so the daemon's writer is never held up for long: each scan
typed while ``edge import items`` (20,000 new parts) runs as its own process
gets its good-read byte, no bad-read byte, and is journaled once, accepted.
The waits are generous ceilings, not timings: speed is bench/imports.py's.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from edge.masterdata.items import ITEM_COLUMNS
from tests.broker import Mosquitto
from tests.faults.conftest import (
    ACK,
    REPO,
    SHIP_GTIN,
    EdgeRun,
    Line,
    PtyScanner,
    assert_balances_equal_ledger,
    assert_scans_and_ledger_agree,
)

ROWS = 20_000
IMPORT_CEILING_S = 300.0
ACK_CEILING_S = 60.0


def write_items(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ITEM_COLUMNS)
        for i in range(rows):
            policy = ["5", "10", "", ""] if i % 2 else ["", "", "", ""]
            writer.writerow([f"BULK-{i:06d}", f"Bulk part {i}", "EA", "false", *policy, "3",
                             f"CUST-BULK-{i:06d}", "reorder", ""])  # fmt: skip


def test_scans_during_a_large_items_import_keep_their_good_read(
    make_broker: Callable[..., Mosquitto],
    pack_scanner: PtyScanner,
    make_line: Callable[..., Line],
    daemons: Callable[[Line], EdgeRun],
) -> None:
    broker = make_broker()
    line = make_line(broker, [pack_scanner])
    items = line.directory / "bulk-items.csv"
    write_items(items, ROWS)
    run = daemons(line)
    codes: list[str] = []
    during = 0
    importer = subprocess.Popen(
        [sys.executable, "-m", "edge", "import", "items", str(items),
         "--config", str(line.config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        while importer.poll() is None or not codes:
            codes.append(f"(01){SHIP_GTIN}(21)IMP{len(codes) + 1:05d}")
            during += importer.poll() is None
            pack_scanner.type(codes[-1])
            heard = pack_scanner.wait_heard(len(codes), ceiling=ACK_CEILING_S)
            assert heard == bytes([ACK]) * len(codes), f"feedback {heard!r}"
        stdout, stderr = importer.communicate(timeout=IMPORT_CEILING_S)
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
    assert importer.returncode == 0, stderr
    assert stdout.startswith(f"imported bulk-items.csv: {ROWS} items: {ROWS} added")
    assert "applied in one transaction" in stderr
    assert during >= 1, "no scan was typed while the import ran"
    assert run.count("scans are refused") == 0
    assert run.terminate() == 0, run.log_text()

    journal = line.journal()
    assert [row[2] for row in journal] == codes
    assert {(row[3], row[4]) for row in journal} == {("accepted", None)}
    assert line.rows("SELECT count(*) FROM items WHERE part LIKE 'BULK-%'") == [(ROWS,)]
    assert_scans_and_ledger_agree(line)
    assert_balances_equal_ledger(line)
