"""The physical limit of the scan path: raw ``sqlite3``, measured in the same run.

:class:`RawBaseline` commits, one durable transaction per scan, the rows the
product wrote per scan (counted from its database) into bare tables;
:class:`ReplayBaseline` replays the product's own rows into a copy of its
schema, the second, weaker comparison.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(REPO))

from common import Run  # noqa: E402

from edge.store.database import PRAGMAS  # noqa: E402

# --- raw sqlite3, the physical limit ----------------------------------------------------

# Tables the product appends to, and tables whose rows it updates in place.
APPEND_TABLES = ("scans", "transactions", "ledger", "outbox", "shipped_serials", "reorders",
                 "bom_structures")  # fmt: skip
KEYED_TABLES = ("balances", "stock_state", "station_state", "counters")


def _columns(db: sqlite3.Connection, name: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({name})")]


def snapshot(path: Path) -> dict[str, int]:
    """Row counts and in-place-update witnesses, read from the product's file."""
    with sqlite3.connect(path) as db:
        counts = {name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                  for name in APPEND_TABLES}  # fmt: skip
        counts["transactions.event_id"] = db.execute(
            "SELECT count(*) FROM transactions WHERE event_id IS NOT NULL"
        ).fetchone()[0]
        # A part's balance is saved once per transaction that touched it.
        counts["balances"] = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT txn_id, part FROM ledger)"
        ).fetchone()[0]
        # A transaction restates the stock state of every stocked part it touched. The
        # product may write one upsert per part per batch; a scan committed alone
        # writes its own, so that is what the one-transaction-per-scan limit writes.
        counts["stock_state"] = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT txn_id, part FROM ledger "
            "WHERE part IN (SELECT part FROM stock_state))"
        ).fetchone()[0]
        # seq is raised once per event; "unpublished" once per event too (by a trigger).
        seq = db.execute("SELECT coalesce(max(value), 0) FROM counters WHERE name = 'seq'")
        counts["counters"] = seq.fetchone()[0] + counts["outbox"]
        # An accepted part scan clears its station's pending QTY/RSN: one upsert.
        counts["station_state"] = db.execute(
            "SELECT count(*) FROM scans WHERE status = 'accepted'"
        ).fetchone()[0]
    return counts


def row_sizes(path: Path) -> dict[str, int]:
    """Average stored bytes per row (sum of column lengths) of each written table."""
    sizes: dict[str, int] = {}
    with sqlite3.connect(path) as db:
        for name in (*APPEND_TABLES, *KEYED_TABLES):
            columns = _columns(db, name)
            expression = " + ".join(f"coalesce(length({c}), 0)" for c in columns)
            value = db.execute(f"SELECT avg({expression}) FROM {name}").fetchone()[0]
            sizes[name] = max(8, int(value or 8))
    return sizes


def keyed_rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                for name in KEYED_TABLES}  # fmt: skip


@dataclass(frozen=True)
class RawPlan:
    """Rows per scan and their sizes, as the product wrote them."""

    inserts: dict[str, int]  # table -> rows appended per scan
    updates: dict[str, int]  # table -> rows updated in place per scan
    sizes: dict[str, int]
    keys: dict[str, int]  # keyed table -> rows it holds

    @property
    def rows(self) -> int:
        return sum(self.inserts.values()) + sum(self.updates.values())


class Baseline:
    """A physical limit: raw sqlite3 transactions, timed like the product's commits."""

    def transaction(self, scans: int = 1) -> None:
        raise NotImplementedError

    def run(self, scans: int, per_transaction: int = 1) -> Run:
        run = Run(f"raw sqlite3, {per_transaction} scan(s)/txn")
        start = time.perf_counter()
        done = 0
        while done < scans:
            size = min(per_transaction, scans - done)
            began = time.perf_counter()
            self.transaction(size)
            run.latencies.extend([time.perf_counter() - began] * size)
            run.batches.append(size)
            done += size
        run.seconds = time.perf_counter() - start
        run.scans = scans
        return run


class RawBaseline(Baseline):
    def __init__(self, path: Path, plan: RawPlan) -> None:
        self.plan = plan
        self.db = raw_connection(path)
        self.payload = {name: "x" * size for name, size in plan.sizes.items()}
        for name in plan.inserts:
            self.db.execute(f"CREATE TABLE raw_{name} (id INTEGER PRIMARY KEY, payload TEXT)")
        for name in KEYED_TABLES:
            self.db.execute(f"CREATE TABLE raw_{name} (key TEXT PRIMARY KEY, payload TEXT)")
            self.db.executemany(
                f"INSERT INTO raw_{name} VALUES (?, ?)",
                [(f"key-{i}", self.payload[name]) for i in range(max(1, plan.keys[name]))],
            )
        self.cursor = 0

    def transaction(self, scans: int = 1) -> None:
        """One durable transaction writing ``scans`` scans' worth of rows."""
        db, plan = self.db, self.plan
        db.execute("BEGIN IMMEDIATE")
        for _ in range(scans):
            for name, count in plan.inserts.items():
                if count:
                    rows = [(self.payload[name],)] * count
                    db.executemany(f"INSERT INTO raw_{name} (payload) VALUES (?)", rows)
            for name, count in plan.updates.items():
                if not count:
                    continue
                if name in KEYED_TABLES:
                    keys = max(1, plan.keys[name])
                    rows = [(f"key-{(self.cursor + i) % keys}", self.payload[name])
                            for i in range(count)]  # fmt: skip
                    db.executemany(
                        f"INSERT INTO raw_{name} VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET payload = excluded.payload",
                        rows,
                    )
                else:  # rows just appended, updated again (e.g. a transaction's event id)
                    db.execute(
                        f"UPDATE raw_{name} SET payload = ? WHERE id IN "
                        f"(SELECT id FROM raw_{name} ORDER BY id DESC LIMIT ?)",
                        (self.payload[name], count),
                    )
            self.cursor += 1
        db.execute("COMMIT")


class ReplayBaseline(Baseline):
    """Raw sqlite3 writing again, per scan, exactly the rows one product scan wrote.

    Works on a copy of the product's database, so the rows land in the same
    tables with the same indexes, foreign keys and triggers: the work any
    program keeping this data must do. Per scan it inserts copies of the
    newest scan's journal row, transaction, ledger rows, shipped serial and
    outbox event (with new keys), and rewrites that scan's balances, stock
    states, station state and counters. No reads, no Python objects, no
    JSON: only the writes.
    """

    def __init__(self, product: Path, path: Path) -> None:
        source = sqlite3.connect(product)
        self.db = raw_connection(path)
        source.backup(self.db)
        source.close()
        db = self.db
        scan = db.execute("SELECT * FROM scans ORDER BY id DESC LIMIT 1").fetchone()
        self.scan = scan[1:]  # without the id
        txn = db.execute(
            "SELECT * FROM transactions WHERE scan_id = ? ORDER BY id LIMIT 1", (scan[0],)
        ).fetchone()
        self.txn_columns = _columns(db, "transactions")
        self.txn = dict(zip(self.txn_columns, txn, strict=True))
        self.ledger = db.execute(
            "SELECT part, quantity, kind, bom_hash FROM ledger WHERE txn_id = ?", (txn[0],)
        ).fetchall()
        self.serial = db.execute(
            "SELECT gtin FROM shipped_serials WHERE txn_id = ?", (txn[0],)
        ).fetchone()
        self.event = db.execute(
            "SELECT type, topic, payload, created_at FROM outbox WHERE event_id = ?",
            (self.txn["event_id"],),
        ).fetchone()
        parts = [row[0] for row in self.ledger]
        marks = ",".join("?" * len(parts))
        self.balances = db.execute(
            f"SELECT part, on_hand, armed FROM balances WHERE part IN ({marks})", parts
        ).fetchall()
        self.stock = db.execute(
            f"SELECT part, topic, payload FROM stock_state WHERE part IN ({marks})", parts
        ).fetchall()
        self.station = db.execute(
            "SELECT * FROM station_state WHERE station = ?", (scan[2],)
        ).fetchone()
        self.station_columns = _columns(db, "station_state")
        self.cursor = 0

    def rows_per_scan(self) -> int:
        """Rows inserted or updated per scan (triggers' updates not counted)."""
        serial = 1 if self.serial else 0
        return 4 + len(self.ledger) + serial + len(self.balances) + len(self.stock) + 2

    def transaction(self, scans: int = 1) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        for _ in range(scans):
            self.cursor += 1
            marks = ",".join("?" * len(self.scan))
            scan_id = db.execute(
                f"INSERT INTO scans ({','.join(_columns(db, 'scans')[1:])}) VALUES ({marks})",
                self.scan,
            ).lastrowid
            txn = {**self.txn, "scan_id": scan_id, "event_id": None}
            columns = self.txn_columns[1:]
            txn_id = db.execute(
                f"INSERT INTO transactions ({','.join(columns)}) "
                f"VALUES ({','.join('?' * len(columns))})",
                [txn[column] for column in columns],
            ).lastrowid
            db.executemany(
                "INSERT INTO ledger (txn_id, part, quantity, kind, scan_id, bom_hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(txn_id, part, quantity, kind, scan_id, bom_hash)
                 for part, quantity, kind, bom_hash in self.ledger],
            )  # fmt: skip
            if self.serial:
                db.execute(
                    "INSERT INTO shipped_serials (gtin, serial, txn_id) VALUES (?, ?, ?)",
                    (self.serial[0], f"REPLAY-{self.cursor}", txn_id),
                )
            (seq,) = db.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
            ).fetchone()
            event_id = f"replay-{self.cursor}"
            db.execute(
                "INSERT INTO outbox (seq, event_id, type, topic, payload, created_at, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, 0)",
                (seq, event_id, *self.event),
            )
            db.execute("UPDATE transactions SET event_id = ? WHERE id = ?", (event_id, txn_id))
            db.executemany(
                "UPDATE balances SET on_hand = ?, armed = ? WHERE part = ?",
                [(on_hand, armed, part) for part, on_hand, armed in self.balances],
            )
            db.executemany(
                "UPDATE stock_state SET topic = ?, payload = ?, version = version + 1 "
                "WHERE part = ?",
                [(topic, payload, part) for part, topic, payload in self.stock],
            )
            columns = self.station_columns[1:]
            db.execute(
                f"UPDATE station_state SET {', '.join(f'{c} = ?' for c in columns)} "
                "WHERE station = ?",
                (*self.station[1:], self.station[0]),
            )
        db.execute("COMMIT")


def plan_from(path: Path, before: dict[str, int], after: dict[str, int], scans: int) -> RawPlan:
    def per_scan(key: str) -> int:
        return round((after[key] - before[key]) / scans)

    inserts = {name: per_scan(name) for name in APPEND_TABLES}
    updates = {name: per_scan(name) for name in KEYED_TABLES}
    updates["transactions"] = per_scan("transactions.event_id")
    return RawPlan(inserts, updates, row_sizes(path), keyed_rows(path))


def raw_connection(path: Path) -> sqlite3.Connection:
    """sqlite3 with the product's pragmas and no driver-managed transactions."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    return connection
