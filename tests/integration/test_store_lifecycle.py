"""The store's side of upgrades, backups and streams, on real SQLite files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from edge.store.backups import claimed_beside, copy_database, remove_abandoned, verify_copy
from edge.store.counters import read_stream
from edge.store.database import _alembic_config, open_database
from edge.store.revisions import SchemaError, StorageError, known_revisions


def test_the_revisions_read_from_the_files_are_alembics_chain(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "edge.db")
    with engine.connect() as connection:
        script = ScriptDirectory.from_config(_alembic_config(connection))
        chain = [revision.revision for revision in script.walk_revisions()]
    engine.dispose()
    assert known_revisions() == list(reversed(chain))


def test_each_new_database_gets_its_own_stream(tmp_path: Path) -> None:
    streams = []
    for name in ("a.db", "b.db"):
        engine = open_database(tmp_path / name)
        with engine.connect() as connection:
            stream, base = read_stream(connection)
        engine.dispose()
        assert base == 0
        streams.append(stream)
    assert len(set(streams)) == 2
    assert all(len(stream) == 36 for stream in streams)


def test_a_copy_is_refused_when_the_target_exists_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    engine = open_database(tmp_path / "edge.db")
    target = tmp_path / "out" / "copy.db"
    target.parent.mkdir()
    target.write_bytes(b"keep me")
    with pytest.raises(StorageError, match="already exists"):
        copy_database(engine, target)
    assert target.read_bytes() == b"keep me"
    chain = known_revisions()
    assert chain is not None
    assert copy_database(engine, target, replace=True) == chain[-1]
    assert sorted(path.name for path in target.parent.iterdir()) == ["copy.db"]
    engine.dispose()


def test_verify_names_what_is_wrong_with_a_copy(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "edge.db")
    engine.dispose()
    head = (known_revisions() or ["?"])[-1]
    copy = sqlite3.connect(tmp_path / "edge.db")
    try:
        with pytest.raises(StorageError, match=f"at revision {head}, its source at 0001"):
            verify_copy(copy, tmp_path / "edge.db", expected="0001")
        copy.execute("DROP TABLE ledger")
        with pytest.raises(StorageError, match="lacks the tables ledger"):
            verify_copy(copy, tmp_path / "edge.db")
    finally:
        copy.close()


def test_a_schema_error_is_a_storage_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE something (x)")
    connection.close()
    with pytest.raises(SchemaError, match=f"{path} is not a Backflush Edge database"):
        open_database(path)
    assert issubclass(SchemaError, StorageError)


def test_only_temporary_copies_nobody_holds_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "edge.bak"
    in_progress, claim = claimed_beside(target)
    abandoned = tmp_path / ".edge.bak.dead1234.partial"
    abandoned.write_bytes(b"half a copy")
    other_target = tmp_path / ".other.bak.dead5678.partial"
    other_target.write_bytes(b"another file's copy")
    try:
        assert remove_abandoned(target) == [abandoned]
        assert in_progress.exists()
        assert other_target.exists()
    finally:
        os.close(claim)
    # Once its copy is gone (closed, or killed), the file is abandoned too.
    assert remove_abandoned(target) == [in_progress]
