"""The versioned migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from edge.store import schema
from edge.store.database import _alembic_config, open_database


def test_migrated_database_matches_the_declared_schema(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "edge.db")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), schema.metadata)
    assert differences == []


def test_a_new_database_is_at_the_single_head(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "edge.db")
    with engine.connect() as connection:
        heads = ScriptDirectory.from_config(_alembic_config(connection)).get_heads()
        current = MigrationContext.configure(connection).get_current_heads()
    assert len(heads) == 1, f"the migrations branch: {heads}"
    assert tuple(current) == tuple(heads)


def test_the_ledger_is_not_indexed_by_part(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "edge.db")
    indexed = {tuple(index["column_names"]) for index in inspect(engine).get_indexes("ledger")}
    assert ("txn_id",) in indexed  # VOID reads a transaction's rows
    assert ("part",) not in indexed  # every scan would pay for it (migration 0003)
