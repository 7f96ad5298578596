"""Upgrades (SPEC §10): only `edge run` and `edge migrate` change the schema, after a backup.

The old database is the demo database taken back to revision 0003 with the
product's own migrations (their downgrade steps), as an older version of the
program would have left it. A newer one is stamped with a revision this
program does not know.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command

from edge.store.database import _alembic_config, create_database_engine
from edge.store.revisions import script_head
from tests.e2e.conftest import CONFIG, Edge, describe, table_rows
from tests.scanner_pty import free_port

OLD = "0003"
NEWER = "0099"
CEILING_S = 60.0


@contextmanager
def running_daemon(edge: Edge) -> Iterator[subprocess.Popen[bytes]]:
    """``edge run`` on the folder's database until it is ready (no scanners, no broker up).

    Stopped with SIGTERM on leaving, which must exit 0.
    """
    edge.write("edge.toml", CONFIG + f'\n[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n')
    log = edge.workdir / "run.log"
    env = {**os.environ, "EDGE_CONFIG": str(edge.config)}
    with log.open("ab") as sink:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "edge", "run"],
            cwd=edge.workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + CEILING_S
        while b"ready" not in log.read_bytes():
            assert daemon.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield daemon
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(CEILING_S) == 0, log.read_text()
    finally:
        daemon.kill()
        daemon.wait()


def _downgrade(database: Path, revision: str) -> None:
    engine = create_database_engine(database)
    try:
        with engine.begin() as connection:
            command.downgrade(_alembic_config(connection), revision)
    finally:
        engine.dispose()


def _stamp(database: Path, revision: str) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    connection.close()


def _revision(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        return str(connection.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        connection.close()


def _digest(database: Path) -> str:
    """The bytes of the database and of the write-ahead log's content beside it.

    The -shm file is left out: it is SQLite's shared index of the log, which
    every reader (a read-only one included) maps and marks; an empty -wal is
    what a read-only open of a WAL database leaves, holding no data.
    """
    digest = hashlib.sha256()
    digest.update(database.read_bytes())
    wal = database.with_name(database.name + "-wal")
    digest.update(wal.read_bytes() if wal.exists() else b"")
    return digest.hexdigest()


def test_a_reading_command_leaves_an_old_database_unchanged_and_names_the_upgrade(
    demo_edge: Edge,
) -> None:
    head = script_head()
    assert head is not None
    assert head != OLD
    _downgrade(demo_edge.database, OLD)
    before = _digest(demo_edge.database)
    for args in (("stock",), ("events", "--pending"), ("receive", "SA-MOTOR-100", "5")):
        result = demo_edge(*args)
        assert result.returncode == 1, describe(result)
        assert (
            f"the database {demo_edge.database} is at revision {OLD}, this program needs {head}: "
            "run `edge migrate` (or start `edge run`)"
        ) in result.stderr, describe(result)
        assert _digest(demo_edge.database) == before, args
    assert _revision(demo_edge.database) == OLD
    assert not list(demo_edge.workdir.glob("edge.db.pre-*"))


def test_migrate_keeps_the_old_database_then_upgrades(demo_edge: Edge) -> None:
    _downgrade(demo_edge.database, OLD)
    old_rows = table_rows(demo_edge.database)
    result = demo_edge.ok("migrate")
    head = script_head()
    assert f"from revision {OLD} to {head}" in result.stdout
    kept = demo_edge.workdir / f"edge.db.pre-{OLD}"
    # The pre-upgrade copy is the old database as it was, and opens at the old revision.
    assert _revision(kept) == OLD
    assert table_rows(kept) == old_rows
    with sqlite3.connect(kept) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    connection.close()
    assert _revision(demo_edge.database) == head
    # The upgraded database works, its events now carry a stream and the seq goes on.
    last_seq = max(row[0] for row in old_rows["outbox"])
    demo_edge.ok("receive", "SA-MOTOR-100", "5")
    receipt = demo_edge.json("events")[-1]["payload"]
    assert receipt["type"] == "receipt"
    assert receipt["seq"] == last_seq + 1
    assert len(receipt["stream"]) == 36
    again = demo_edge.ok("migrate")
    assert f"already at revision {head}" in again.stdout


def test_edge_run_keeps_the_old_database_then_upgrades(demo_edge: Edge) -> None:
    _downgrade(demo_edge.database, OLD)
    old_rows = table_rows(demo_edge.database)
    with running_daemon(demo_edge):
        pass
    kept = demo_edge.workdir / f"edge.db.pre-{OLD}"
    assert _revision(kept) == OLD
    assert table_rows(kept) == old_rows
    assert _revision(demo_edge.database) == script_head()


def test_a_database_newer_than_the_program_is_refused_by_every_command(demo_edge: Edge) -> None:
    _stamp(demo_edge.database, NEWER)
    before = _digest(demo_edge.database)
    head = script_head()
    way_back = (
        f"install the newer version, or restore the pre-upgrade backup "
        f"{demo_edge.database}.pre-{head} with `edge restore`"
    )
    for args in (("stock",), ("migrate",), ("run",)):
        result = demo_edge(*args)
        assert result.returncode == 1, describe(result)
        assert f"at revision {NEWER}, newer than this program's {head}" in result.stderr
        assert way_back in result.stderr, describe(result)
        assert _digest(demo_edge.database) == before, args
    assert not list(demo_edge.workdir.glob("edge.db.pre-*"))


def test_a_new_database_is_created_at_the_head_by_any_command(edge: Edge) -> None:
    items = edge.write("items.csv", "part,uom,stocked\nR-1,EA,true\n")
    result = edge("import", "items", str(items))
    assert result.returncode == 0, describe(result)
    assert _revision(edge.database) == script_head()
    assert not list(edge.workdir.glob("edge.db.pre-*"))
