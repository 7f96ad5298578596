"""Backup and restore (SPEC §10) and the event stream they keep honest (§6).

Every test runs the real ``edge`` command on a private copy of the demo
database; payloads are read back from the outbox of every database file that
ever existed (the restored one and the replaced one kept beside it).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Edge, describe, table_rows
from tests.e2e.test_upgrades import OLD, _digest, _downgrade, _revision, _stamp, running_daemon

CEILING_S = 60.0
PART = "SA-MOTOR-100"


def _payloads(database: Path) -> list[dict[str, Any]]:
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    finally:
        connection.close()
    return [json.loads(text) for (text,) in rows]


def _stream(database: Path) -> str:
    return str(_payloads(database)[-1]["stream"])


def _assert_no_seq_reused(payloads: list[dict[str, Any]]) -> None:
    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    for payload in payloads:
        ids[payload["stream"], payload["seq"]].add(payload["event_id"])
    reused = {key: found for key, found in ids.items() if len(found) > 1}
    assert reused == {}


def _assert_gapless(payloads: list[dict[str, Any]]) -> None:
    by_stream: dict[str, list[int]] = defaultdict(list)
    for payload in payloads:
        by_stream[payload["stream"]].append(payload["seq"])
    for stream, seqs in by_stream.items():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), stream


def test_backup_more_scans_restore_more_scans_never_reuses_a_seq(demo_edge: Edge) -> None:
    demo_edge.ok("receive", PART, "5")
    first_stream = _stream(demo_edge.database)
    backup = demo_edge.workdir / "before.db"
    demo_edge.ok("backup", str(backup))
    held = _payloads(backup)
    backup_last_seq = held[-1]["seq"]
    for quantity in ("6", "7", "8"):  # lost from the node's records by the restore
        demo_edge.ok("receive", PART, quantity)
    replaced_last_seq = _payloads(demo_edge.database)[-1]["seq"]
    assert replaced_last_seq > backup_last_seq

    result = demo_edge.ok("restore", str(backup))
    kept = sorted(demo_edge.workdir.glob("edge.db.replaced-*"))
    assert len(kept) == 1, describe(result)
    assert f"kept at {kept[0]}" in result.stdout
    demo_edge.ok("receive", PART, "9")
    demo_edge.ok("receive", PART, "10")

    current = _payloads(demo_edge.database)
    replaced = _payloads(kept[0])
    assert current[: len(held)] == held  # the backup's events, as they were
    restored, *after = current[len(held) :]
    assert restored["type"] == "restored"
    new_stream = restored["stream"]
    assert new_stream != first_stream
    assert restored["seq"] == 1
    assert restored["previous_stream"] == first_stream
    assert restored["previous_last_seq"] == backup_last_seq
    assert restored["replaced_stream"] == first_stream
    assert restored["replaced_last_seq"] == replaced_last_seq
    assert [payload["stream"] for payload in after] == [new_stream] * len(after)
    assert after[0]["seq"] == 2
    assert [payload["quantity"] for payload in after if payload["type"] == "receipt"] == [9, 10]
    # `edge events` shows each event's seq in its stream, not its outbox position.
    listed = [line.split() for line in demo_edge.ok("events").stdout.splitlines()]
    seqs = [int(cells[0]) for cells in listed if cells and cells[0].isdigit()]
    assert seqs[len(held) :] == [1] + [payload["seq"] for payload in after]

    everything = [*replaced, *current]
    _assert_no_seq_reused(everything)
    _assert_gapless(current)
    _assert_gapless(replaced)
    # The restored ledger is the backup's plus what came after it.
    on_hand = {row["part"]: row["on_hand"] for row in demo_edge.json("stock")}
    assert on_hand[PART] == _on_hand(backup, PART) + 19
    # The backup file itself is left as it was.
    assert _payloads(backup) == held


def _on_hand(database: Path, part: str) -> Decimal:
    rows = {row[0]: row[1] for row in table_rows(database)["balances"]}
    return Decimal(rows[part])


def test_a_restore_of_an_older_backup_is_upgraded_and_says_it_had_no_stream(
    demo_edge: Edge,
) -> None:
    old = demo_edge.workdir / "old.db"
    demo_edge.ok("backup", str(old))
    _downgrade(old, OLD)
    old_last_seq = _payloads(old)[-1]["seq"]
    result = demo_edge.ok("restore", str(old))
    assert "made before streams" in result.stdout
    assert _revision(old) == OLD  # the backup is untouched
    restored = _payloads(demo_edge.database)[-1]
    assert restored["type"] == "restored"
    assert restored["seq"] == 1
    assert restored["previous_stream"] is None
    assert restored["previous_last_seq"] == old_last_seq
    demo_edge.ok("receive", PART, "1")
    assert _payloads(demo_edge.database)[-1]["seq"] == 2


def test_a_restore_refuses_a_bad_or_newer_backup_and_changes_nothing(demo_edge: Edge) -> None:
    garbage = demo_edge.write("garbage.db", b"SQLite format 3\x00" + b"\x01" * 8192)
    newer = demo_edge.workdir / "newer.db"
    demo_edge.ok("backup", str(newer))
    _stamp(newer, "0099")
    before = _digest(demo_edge.database)
    for backup, message in (
        (garbage, "garbage.db"),
        (newer, "revision 0099, newer than this program's"),
        (demo_edge.workdir / "missing.db", "no backup at"),
    ):
        result = demo_edge("restore", str(backup))
        assert result.returncode == 1, describe(result)
        assert message in result.stderr, describe(result)
        assert _digest(demo_edge.database) == before
    assert not list(demo_edge.workdir.glob("edge.db.replaced-*"))
    assert sorted(p.name for p in demo_edge.workdir.iterdir() if p.name.startswith(".")) == []


def test_a_restore_is_refused_while_edge_run_holds_the_database(demo_edge: Edge) -> None:
    backup = demo_edge.workdir / "b.db"
    demo_edge.ok("backup", str(backup))
    with running_daemon(demo_edge) as daemon:
        result = demo_edge("restore", str(backup))
        assert result.returncode == 1, describe(result)
        assert "`edge run` holds" in result.stderr
        assert not list(demo_edge.workdir.glob("edge.db.replaced-*"))
        assert daemon.poll() is None
    demo_edge.ok("restore", str(backup))
    assert _payloads(demo_edge.database)[-1]["type"] == "restored"


def test_a_restore_is_refused_while_another_process_has_the_database_open(
    demo_edge: Edge,
) -> None:
    backup = demo_edge.workdir / "b.db"
    demo_edge.ok("backup", str(backup))
    reader = sqlite3.connect(demo_edge.database)
    try:
        reader.execute("SELECT count(*) FROM items").fetchall()
        result = demo_edge("restore", str(backup))
        assert result.returncode == 1, describe(result)
        assert "is open in another process" in result.stderr
    finally:
        reader.close()
    assert not list(demo_edge.workdir.glob("edge.db.replaced-*"))
    demo_edge.ok("restore", str(backup))


def _grow(database: Path, megabytes: int) -> None:
    """Pad the database with a table of random blobs, so copying it takes a while."""
    connection = sqlite3.connect(database)
    try:
        connection.execute("CREATE TABLE padding (blob BLOB)")
        connection.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO padding SELECT randomblob(65536) FROM n",
            (megabytes * 16,),
        )
        connection.commit()
    finally:
        connection.close()


def test_a_backup_killed_half_way_leaves_nothing_at_the_target(demo_edge: Edge) -> None:
    _grow(demo_edge.database, 96)
    target = demo_edge.workdir / "backups" / "edge.bak"
    target.parent.mkdir()
    env = {**os.environ, "EDGE_CONFIG": str(demo_edge.config)}
    backup = subprocess.Popen(
        [sys.executable, "-m", "edge", "backup", str(target)],
        cwd=demo_edge.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Kill it while the copy is being written (its temporary file exists).
        deadline = time.monotonic() + CEILING_S
        while not list(target.parent.glob(".edge.bak.*.partial")):
            assert backup.poll() is None, "the backup finished before a temporary file was seen"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        backup.send_signal(signal.SIGKILL)
        backup.wait(CEILING_S)
    finally:
        backup.kill()
        backup.wait()
    assert backup.returncode == -signal.SIGKILL
    assert not target.exists()
    assert list(target.parent.glob(".edge.bak.*.partial"))  # what the killed copy left
    # The next backup to the same name completes, and removes what the killed one left;
    # its copy holds everything.
    result = demo_edge.ok("backup", str(target))
    assert not list(target.parent.glob(".edge.bak.*.partial"))
    assert str(target) in result.stdout
    assert table_rows(target)["padding"] == table_rows(demo_edge.database)["padding"]
    with sqlite3.connect(target) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    connection.close()


def test_a_restore_onto_a_new_box_needs_no_database_there(
    demo_edge: Edge, make_floor: Callable[[str], Edge]
) -> None:
    backup = demo_edge.workdir / "b.db"
    demo_edge.ok("backup", str(backup))
    edge = make_floor("new-box")
    assert not edge.database.exists()
    result = edge.ok("restore", str(backup))
    assert "replaced database" not in result.stdout
    restored = _payloads(edge.database)[-1]
    assert restored["type"] == "restored"
    assert restored["replaced_stream"] is None
    assert restored["replaced_last_seq"] is None
    assert edge.json("stock") == demo_edge.json("stock")


def test_the_way_back_from_a_newer_database_is_its_pre_upgrade_backup(demo_edge: Edge) -> None:
    # As a newer version would leave it: its copy from before its upgrade, then the upgrade.
    head = _revision(demo_edge.database)
    pre_upgrade = demo_edge.workdir / f"edge.db.pre-{head}"
    demo_edge.ok("backup", str(pre_upgrade))
    _stamp(demo_edge.database, "0099")
    refused = demo_edge("stock")
    assert f"restore the pre-upgrade backup {pre_upgrade} with `edge restore`" in refused.stderr
    result = demo_edge.ok("restore", str(pre_upgrade))
    kept = sorted(demo_edge.workdir.glob("edge.db.replaced-*"))
    assert [_revision(path) for path in kept] == ["0099"]
    assert f"kept at {kept[0]}" in result.stdout
    assert _revision(demo_edge.database) == head
    demo_edge.ok("stock")
