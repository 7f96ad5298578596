"""The plain SQL text of the scan path, built from the tables in schema.py.

The unit of work runs these statements on the driver's connection (see
unit_of_work.py for why); rows.py builds their parameters and reads their
rows. Each statement names its columns explicitly, in the order its
parameters or row values come, and the text around them (table name,
placeholders, the ``excluded`` assignments of an upsert, the conflict target)
is derived from schema.py. A column missing there fails at import, not at
the first scan. The text is built once, when the module is imported.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

from sqlalchemy import Table

from edge.domain.ports import VOID_STOPS
from edge.store import schema
from edge.store.rows import (
    BALANCE_COLUMNS,
    CARD_COLUMNS,
    COUNT_COLUMNS,
    REORDER_COLUMNS,
    SCAN_COLUMNS,
    STATION_STATE_COLUMNS,
    TRANSACTION_COLUMNS,
    TRANSACTION_ROW,
)

# Rows per multi-row statement: a batch's rows go in statements of 256, 64 and
# 16 rows, and what is left (fewer than 16, e.g. the seven ledger rows of one
# scan) in one statement of its own size. So each table has at most 18 texts,
# none near the bound-parameter limit (32,766). Each text the connection's
# statement cache keeps is a prepared program of some 10 kB: with every size
# up to 64, a daemon under a burst kept some 500 of them, 10 MB.
ROWS_PER_STATEMENT: Final = (256, 64, 16)


Row = TypeVar("Row", bound=Sequence[Any])


@functools.cache
def many_rows(statement: str, rows: int) -> str:
    """``statement`` (one ``VALUES (?, ...)`` group) writing ``rows`` rows at once.

    One statement for many rows, not ``executemany``: the driver gives up
    and takes back Python's lock around every row it steps, and under a
    burst each take-back waits behind the relay's threads.
    """
    start = statement.index("VALUES (") + len("VALUES ")
    end = statement.index(")", start) + 1
    group = statement[start:end]
    return f"{statement[:start]}{', '.join([group] * rows)}{statement[end:]}"


@functools.cache
def chunks(count: int) -> tuple[tuple[int, int], ...]:
    """(start, size) of the multi-row statements that write ``count`` rows."""
    out: list[tuple[int, int]] = []
    at = 0
    for size in ROWS_PER_STATEMENT:
        while count - at >= size:
            out.append((at, size))
            at += size
    if at < count:
        out.append((at, count - at))
    return tuple(out)


def row_groups(
    statement: str, rows: Sequence[Row]
) -> Iterator[tuple[str, tuple[Any, ...], Sequence[Row]]]:
    """The multi-row statements that carry ``rows``: (text, flat parameters, the rows)."""
    for start, size in chunks(len(rows)):
        group = rows[start : start + size]
        yield many_rows(statement, size), tuple(_flat(group)), group


_flat = itertools.chain.from_iterable


def _names(table: Table, columns: Sequence[str]) -> str:
    """The column names, comma-separated, each checked to be a column of ``table``.

    Every name in the SQL text comes from schema.py or from this module's
    constants, never from input, so building the text with f-strings is safe.
    """
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise LookupError(f"table {table.name} has no column {', '.join(unknown)}")
    return ", ".join(columns)


def _where(table: Table, keys: Sequence[str]) -> str:
    _names(table, keys)
    return " AND ".join(f"{key} = ?" for key in keys)


def _insert(table: Table, columns: Sequence[str], fixed: Mapping[str, str] | None = None) -> str:
    """``columns`` as parameters, then ``fixed`` columns with their SQL literal."""
    fixed = fixed or {}
    names = _names(table, [*columns, *fixed])
    values = ", ".join(["?"] * len(columns) + list(fixed.values()))
    return f"INSERT INTO {table.name} ({names}) VALUES ({values})"  # noqa: S608 - see _names


def _upsert(
    table: Table,
    columns: Sequence[str],
    fixed: Mapping[str, str] | None = None,
    *,
    also: str | None = None,
) -> str:
    """An insert that, when the primary key exists, sets its other parameter columns instead.

    ``fixed`` columns are written only by the insert; ``also`` adds an
    assignment to the update.
    """
    keys = [column.name for column in table.primary_key.columns]
    assignments = [f"{name} = excluded.{name}" for name in columns if name not in keys]
    if also is not None:
        assignments.append(also)
    return (
        f"{_insert(table, columns, fixed)} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(assignments)}"
    )


def _select(table: Table, columns: Sequence[str], keys: Sequence[str], rest: str = "") -> str:
    """The columns of the rows whose ``keys`` equal the parameters; ``rest`` follows as is."""
    names, where = _names(table, columns), _where(table, keys)
    return f"SELECT {names} FROM {table.name} WHERE {where}{rest}"  # noqa: S608 - see _names


def _exists(table: Table, keys: Sequence[str]) -> str:
    """One row ``(1,)`` when a row with these key values exists, none otherwise."""
    return f"SELECT 1 FROM {table.name} WHERE {_where(table, keys)}"  # noqa: S608 - see _names


def _update(table: Table, columns: Sequence[str], keys: Sequence[str]) -> str:
    """Set ``columns`` (parameters first) of the rows matching ``keys`` (parameters after)."""
    _names(table, columns)
    assignments = ", ".join(f"{name} = ?" for name in columns)
    where = _where(table, keys)
    return f"UPDATE {table.name} SET {assignments} WHERE {where}"  # noqa: S608 - see _names


def _largest_id(table: Table) -> str:
    """The table's largest ``id``, 0 when it has no rows."""
    _names(table, ("id",))
    return f"SELECT coalesce(max(id), 0) FROM {table.name}"  # noqa: S608 - see _names


def _delete(table: Table, keys: Sequence[str]) -> str:
    return f"DELETE FROM {table.name} WHERE {_where(table, keys)}"  # noqa: S608 - see _names


# --- stock and ledger ---------------------------------------------------------
BALANCE = _select(schema.balances, BALANCE_COLUMNS[1:], ("part",))
HAS_BALANCE = _exists(schema.balances, ("part",))
SAVE_BALANCE = _upsert(schema.balances, BALANCE_COLUMNS)
APPEND_LEDGER = _insert(
    schema.ledger, ("txn_id", "part", "quantity", "kind", "scan_id", "bom_hash")
)
# A count taken earlier is compared with the book as it stood then (SQL never sums).
MOVED_SINCE = (
    "SELECT ledger.quantity FROM ledger JOIN transactions ON transactions.id = ledger.txn_id"
    " WHERE ledger.part = ? AND transactions.at > ?"
)
# What a part was used for after a moment: each row with its transaction's kind and
# part, and for a void the kind and part of what it reversed (usage.usage_of_rows).
USAGE_SINCE = (
    "SELECT ledger.quantity, t.kind, t.part, o.kind, o.part FROM ledger"
    " JOIN transactions AS t ON t.id = ledger.txn_id"
    " LEFT JOIN transactions AS o ON o.voided_by = t.id"
    " WHERE ledger.part = ? AND t.at > ?"
)
ADD_COUNT = _insert(schema.counts, COUNT_COLUMNS)
LEDGER_ROWS = _select(schema.ledger, ("part", "quantity"), ("txn_id",), " ORDER BY id")
HAS_STRUCTURE = _exists(schema.bom_structures, ("bom_hash",))
ADD_STRUCTURE = _insert(schema.bom_structures, ("bom_hash", "lines", "created_at"))

# --- reorders (both read the row rows.reorder_from_row takes) -----------------
REORDER = _select(schema.reorders, REORDER_COLUMNS, ("id",))
OPEN_REORDERS = _select(schema.reorders, REORDER_COLUMNS, ("part",), " AND open IS 1 ORDER BY id")
ADD_REORDER = _insert(
    schema.reorders, ("part", "ordered", "created_at"), {"received": "'0'", "open": "1"}
)
ON_ORDER = _select(schema.on_order, ("quantity",), ("part",))
SAVE_ON_ORDER = _upsert(schema.on_order, ("part", "quantity"))
RECEIVE_REORDER = _update(schema.reorders, ("received",), ("id",))
CLOSE_REORDER = _update(schema.reorders, ("received", "open", "close_reason", "closed_at"), ("id",))
REFERENCE_REORDER = _update(schema.reorders, ("reference", "acknowledged_at"), ("id",))

# --- kanban cards --------------------------------------------------------------
CARD = _select(schema.cards, CARD_COLUMNS, ("card",))
CARDS_OF = _select(schema.cards, CARD_COLUMNS, ("part",), " ORDER BY card")
SAVE_CARD_STATE = _update(schema.cards, ("state", "emptied_at", "updated_at"), ("card",))
KANBAN_MARK = _select(schema.kanban_marks, ("used", "at"), ("part",))
SAVE_KANBAN_MARK = _upsert(schema.kanban_marks, ("part", "used", "at"))

# --- journal, transactions, serials, stations (pending.py writes them at commit) --
# Rows carry the ids the unit of work gave them (kept.py), so a batch of scans
# is written with one statement per table.
ADD_TRANSACTION = _insert(schema.transactions, ("id", *TRANSACTION_COLUMNS, "event_id"))
SET_TRANSACTION_EVENT = _update(schema.transactions, ("event_id",), ("id",))
# The newest transaction a part or card scan posted at a station, voided or not (what
# VOID reverses, or refuses to step past).
# The kinds are our own constants, never input, so they are written into the text.
NEWEST_VOIDABLE = _select(
    schema.transactions,
    TRANSACTION_ROW,
    ("station",),
    f" AND kind IN ({', '.join(repr(kind) for kind in VOID_STOPS)}) ORDER BY id DESC LIMIT 1",
)
MARK_VOIDED = _update(schema.transactions, ("voided_by",), ("id",))
# Which of some (GTIN, serial) pairs have shipped: one group, widened by many_rows.
# A join, not ``(gtin, serial) IN (VALUES ...)``: SQLite answers that row-value IN
# by scanning the whole key index (the batch's cost grew with every serial ever
# shipped: 172 us for 30 pairs among 3,000), and the join by one search per pair.
SHIPPED_AMONG = (
    f"WITH wanted (gtin, serial) AS (VALUES (?, ?)) "  # noqa: S608 - see _names
    f"SELECT {_names(schema.shipped_serials, ('gtin', 'serial'))} "
    f"FROM {schema.shipped_serials.name} JOIN wanted USING (gtin, serial)"
)
# One pair, the steady scan's case: without the list SQLite builds for IN.
SHIPPED_ONE = _exists(schema.shipped_serials, ("gtin", "serial"))
# A void frees the serial its transaction's scan shipped, by the table's key.
SHIPPED_BY = (
    f"SELECT {schema.scans.name}.gtin, {schema.scans.name}.serial "  # noqa: S608 - see _names
    f"FROM {schema.transactions.name} JOIN {schema.scans.name} "
    f"ON {schema.scans.name}.id = {schema.transactions.name}.scan_id "
    f"WHERE {schema.transactions.name}.id = ?"
)
FREE_SERIAL = _delete(schema.shipped_serials, ("gtin", "serial", "txn_id"))
RECORD_SERIAL = _insert(schema.shipped_serials, ("gtin", "serial", "txn_id"))
STATION_STATE = _select(schema.station_state, STATION_STATE_COLUMNS[1:], ("station",))
SAVE_STATION_STATE = _upsert(schema.station_state, STATION_STATE_COLUMNS)
ADD_SCAN = _insert(schema.scans, ("id", *SCAN_COLUMNS))
SET_SCAN_OUTCOME = _update(schema.scans, ("status", "reason"), ("id",))

# --- counters (counters.py) -------------------------------------------------
BUMP_COUNTER = (
    _upsert(schema.counters, ("name",), {"value": "1"}, also="value = counters.value + 1")
    + " RETURNING value"
)
SET_COUNTER = _upsert(schema.counters, ("name", "value"))
READ_COUNTER = _select(schema.counters, ("value",), ("name",))
# The ids the next rows take, and the next outbox position (kept.py).
NEXT_IDS = (
    f"SELECT ({_largest_id(schema.scans)}) + 1, ({_largest_id(schema.transactions)}) + 1, "
    f"coalesce(({READ_COUNTER}), 0) + 1"
)
# Changes when another connection committed since this one last asked (kept.py).
DATA_VERSION = "PRAGMA data_version"
# What a transaction checks first (kept.py): the catalog's version, the writes
# counter and the stream, in one statement; a missing counter reads as 0.
KEPT_MARKERS = (
    f"SELECT coalesce(({READ_COUNTER}), 0), coalesce(({READ_COUNTER}), 0), "  # noqa: S608
    f"{_names(schema.stream, ('uuid', 'seq_base'))} FROM {schema.stream.name}"
)

# --- outbox -------------------------------------------------------------------
ADD_EVENT = _insert(
    schema.outbox,
    ("seq", "event_id", "type", "topic", "payload", "created_at"),
    {"attempts": "0"},
)
# A part's retained stock message is due again: its version counts the changes,
# published_version (what the broker acknowledged) is left alone, and the relay
# renders the message when it publishes (stock_messages.py).
RESTATE_STOCK = _upsert(
    schema.stock_state,
    ("part", "topic", "updated_at"),
    {"version": "1", "published_version": "0"},
    also="version = stock_state.version + 1",
)
