"""The versioned migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from edge.domain.scanning import ScanOutcome
from edge.store import schema
from edge.store.database import _alembic_config, open_database
from tests.shop_floor import SHIP, ShopFloor

GTIN = "09501101530003"


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


def test_the_upgrade_to_0006_sums_each_parts_open_reorders(floor: ShopFloor) -> None:
    """What the open reorders still bring in, per part: ordered less received, never below 0."""
    floor.load("part,description,reorder_point,reorder_qty\nR-1,Raw,10,25\nR-2,Raw,5,7\n")
    engine = floor.engine
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0005")
        connection.exec_driver_sql(
            "INSERT INTO reorders (part, ordered, received, open, created_at) VALUES "
            "('R-1', '25', '0', 1, 'x'), ('R-1', '25', '10.5', 1, 'x'), "
            "('R-1', '25', '30', 1, 'x'), ('R-1', '25', '25', 0, 'x'), ('R-2', '7', '0', 0, 'x')"
        )
        command.upgrade(_alembic_config(connection), "head")
        rows = connection.exec_driver_sql("SELECT part, quantity FROM on_order").all()
    assert [tuple(row) for row in rows] == [("R-1", "39.5")]


def test_the_upgrade_to_0009_keeps_when_each_stock_message_was_due(floor: ShopFloor) -> None:
    """Stored messages go; what the relay renders from is kept: the version and its moment."""
    engine = floor.engine
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0008")
        connection.exec_driver_sql(
            "INSERT INTO stock_state (part, topic, payload, version, published_version) VALUES "
            '(\'R-1\', \'t/R-1\', \'{"part":"R-1","updated_at":"2026-03-02T06:00:00.000Z"}\','
            " 3, 2), ('R-2', 't/R-2', '{}', 1, 1)"
        )
        command.upgrade(_alembic_config(connection), "head")
        upgraded = connection.exec_driver_sql(
            "SELECT part, version, published_version, updated_at FROM stock_state ORDER BY part"
        ).all()
        command.downgrade(_alembic_config(connection), "0008")
        downgraded = connection.exec_driver_sql(
            "SELECT part, payload, version, published_version FROM stock_state ORDER BY part"
        ).all()
    assert [tuple(row) for row in upgraded] == [
        ("R-1", 3, 2, "2026-03-02T06:00:00.000Z"), ("R-2", 1, 1, ""),
    ]  # fmt: skip
    # The older program would publish the column's text: nothing is left due for it.
    assert [tuple(row) for row in downgraded] == [("R-1", "{}", 3, 3), ("R-2", "{}", 1, 1)]


def _shipped_serials_table(connection: Connection) -> str:
    return str(connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'shipped_serials'"
    ).scalar_one())  # fmt: skip


def test_shipped_serials_are_one_b_tree(tmp_path: Path) -> None:
    """A shipment writes one page of the table: clustered by its key, no other index."""
    engine = open_database(tmp_path / "edge.db")
    with engine.connect() as connection:
        assert _shipped_serials_table(connection).rstrip().endswith("WITHOUT ROWID")
    assert inspect(engine).get_indexes("shipped_serials") == []


def test_the_upgrade_to_0010_keeps_every_shipped_serial(floor: ShopFloor) -> None:
    """Serials shipped before the upgrade still ship once; a void frees them after it."""
    floor.load(f"part,description,aliases\nFG-1,Pump,{GTIN}\n")
    code = f"(01){GTIN}(21)SN-1"
    _status(floor.scan(SHIP, code), "accepted")
    _status(floor.scan(SHIP, f"(01){GTIN}(21)SN-2"), "accepted")
    with floor.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0009")
        assert "WITHOUT ROWID" not in _shipped_serials_table(connection)
        command.upgrade(_alembic_config(connection), "head")
        rows = connection.exec_driver_sql(
            "SELECT gtin, serial FROM shipped_serials ORDER BY serial"
        ).all()
    assert [tuple(row) for row in rows] == [(GTIN, "SN-1"), (GTIN, "SN-2")]
    _status(floor.scan(SHIP, code), "rejected", "serial-already-shipped")
    _status(floor.scan(SHIP, "VOID"), "accepted")  # not the rejection: SN-2's shipment
    _status(floor.scan(SHIP, f"(01){GTIN}(21)SN-2"), "accepted")
    _status(floor.scan(SHIP, f"(01){GTIN}(21)SN-2"), "rejected", "serial-already-shipped")


def _status(outcome: ScanOutcome, status: str, reason: str | None = None) -> None:
    assert (outcome.status, outcome.reason) == (status, reason), outcome
