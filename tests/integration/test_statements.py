"""The scan path's plain SQL compiles against the migrated database, and its row layouts line up."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from edge.domain.ports import Moment, PendingControl, ScanRecord, StationState
from edge.store import rows, schema, statements
from edge.store.database import open_database

STATEMENTS = {
    name: value
    for name, value in vars(statements).items()
    if name.isupper() and isinstance(value, str)
}
AT = Moment(datetime(2026, 3, 2, 6, 0, tzinfo=UTC), 12.5, "boot-1")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """The driver connection of a database file as production migrates it."""
    engine = open_database(tmp_path_factory.mktemp("statements") / "edge.db")
    raw = engine.raw_connection()
    try:
        yield raw.driver_connection
    finally:
        raw.close()
        engine.dispose()


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_each_statement_compiles_against_the_migrated_schema(
    migrated: sqlite3.Connection, name: str
) -> None:
    text = STATEMENTS[name]
    # EXPLAIN prepares the statement (every table and column must exist in
    # the migrated file, every placeholder be bound) without running it.
    migrated.execute(f"EXPLAIN {text}", (None,) * text.count("?"))


def test_row_values_match_their_column_lists() -> None:
    scan = ScanRecord("scanner-1", "PACK-1", b"x", "x", None, AT)
    pending = PendingControl("5", AT, 7)
    state = StationState(qty=pending, reason=pending, mode="ship")
    transaction = rows.transaction_values(
        "backflush",
        AT,
        part="FG-1",
        quantity=Decimal(1),
        station="PACK-1",
        scanner="scanner-1",
        scan_id=1,
        bom_hash=None,
        reason=None,
    )
    assert len(rows.scan_values(scan, "accepted", None)) == len(rows.SCAN_COLUMNS)
    # New rows carry their id first; a transaction's event follows its columns.
    assert statements.ADD_SCAN.count("?") == 1 + len(rows.SCAN_COLUMNS)
    assert len(transaction) == len(rows.TRANSACTION_COLUMNS)
    assert statements.ADD_TRANSACTION.count("?") == 1 + len(rows.TRANSACTION_COLUMNS) + 1
    read_back = rows.transaction_from_row((41, *transaction, "event-1", None))
    assert (read_back.id, read_back.kind, read_back.scan_id, read_back.event_id) == (
        41, "backflush", 1, "event-1",
    )  # fmt: skip
    assert read_back.at == AT
    values = rows.station_state_values("PACK-1", state)
    assert len(values) == len(rows.STATION_STATE_COLUMNS)
    assert rows.station_state_from_row(values[1:]) == state


def test_a_column_schema_py_lacks_fails_when_the_text_is_built() -> None:
    with pytest.raises(LookupError, match="scans has no column colour"):
        statements._insert(schema.scans, ("code", "colour"))


# Tables that grow with every scan: a statement that scans one of them gets slower
# for as long as the node runs.
GROWING = frozenset({"scans", "transactions", "ledger", "outbox", "shipped_serials",
                     "reorders", "counts"})  # fmt: skip
# A count reads its part's ledger rows since the part's last count. Counts are rare (a
# person counting a bin); an index on the ledger's part would cost every scan's ledger
# rows, so these two scan the ledger, and the cost of a count grows with it.
SCANS_BY_DESIGN = frozenset({"MOVED_SINCE", "USAGE_SINCE"})


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, text in STATEMENTS.items()
        if text.startswith(("SELECT", "WITH")) and name not in SCANS_BY_DESIGN
    ),
)
def test_no_read_of_the_scan_path_scans_a_table_that_grows(
    migrated: sqlite3.Connection, name: str
) -> None:
    text = STATEMENTS[name]
    if "VALUES (" in text:
        text = statements.many_rows(text, 30)  # as a batch asks it
    plan = [row[3] for row in migrated.execute(f"EXPLAIN QUERY PLAN {text}",
                                               (None,) * text.count("?"))]  # fmt: skip
    scanned = [detail for detail in plan
               if detail.startswith("SCAN") and detail.split()[1] in GROWING]  # fmt: skip
    assert not scanned, plan
