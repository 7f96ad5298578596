"""The database tables, as SQLAlchemy Core metadata.

Quantities are TEXT holding exact decimal literals: a NUMERIC column would
hand them to SQLite as floats. SQL never sums, compares or orders quantities;
Python does. Times are RFC 3339 UTC text plus, where a window is measured,
the monotonic clock reading and the boot it belongs to.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    false,
    text,
)

metadata = MetaData()

items = Table(
    "items",
    metadata,
    Column("part", Text, primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("uom", Text, nullable=False, default="EA"),
    Column("stocked", Boolean, nullable=False, default=False),
    Column("reorder_point", Text),
    Column("reorder_qty", Text),
    Column("max_qty", Text),
    Column("order_multiple", Text),
    Column("lead_time_days", Integer),
    Column("updated_at", Text, nullable=False),
    # reorder | kanban (migration 0008)
    Column("replenishment", Text, nullable=False, server_default=text("'reorder'")),
    Column("count_tolerance_pct", Text),  # None: [inventory] count_tolerance_pct
)

aliases = Table(
    "aliases",
    metadata,
    Column("code", Text, primary_key=True),
    Column("part", Text, ForeignKey("items.part"), nullable=False, index=True),
)

bom_lines = Table(
    "bom_lines",
    metadata,
    Column("parent", Text, ForeignKey("items.part"), primary_key=True),
    Column("component", Text, ForeignKey("items.part"), primary_key=True),
    Column("qty_per", Text, nullable=False),
    Column("scrap_pct", Text, nullable=False),
    Index("ix_bom_lines_component", "component"),
)

bom_structures = Table(
    "bom_structures",
    metadata,
    Column("bom_hash", Text, primary_key=True),
    Column("lines", Text, nullable=False),  # canonical JSON [[part, per unit], ...]
    Column("created_at", Text, nullable=False),
)

balances = Table(
    "balances",
    metadata,
    Column("part", Text, ForeignKey("items.part"), primary_key=True),
    Column("on_hand", Text, nullable=False),
    Column("armed", Boolean, nullable=False),  # low-stock may fire (see reorder rules)
    # What the part's stock was used for since its first record (migration 0008):
    # cumulative quantities, so "consumption since" is a difference of two marks
    # and no report or retained message sums the ledger. ``used_bom`` is the part
    # of the three consumed as a component of a parent (through a BOM).
    Column("used_backflush", Text, nullable=False, server_default=text("'0'")),
    Column("used_scrap", Text, nullable=False, server_default=text("'0'")),
    Column("used_issue", Text, nullable=False, server_default=text("'0'")),
    Column("used_bom", Text, nullable=False, server_default=text("'0'")),
    # The consumption of each of the last 14 UTC days with any: "day=qty;day=qty".
    Column("daily_use", Text, nullable=False, server_default=text("''")),
    # The last count: when, what was counted, and the part's use by kind at that
    # moment ("backflush scrap issue bom", cumulative), where the next count's starts.
    Column("counted_at", Text),
    Column("counted", Text),
    Column("counted_used", Text),
)

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scanner", Text, nullable=False),
    Column("station", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),  # the raw bytes as read
    Column("code", Text, nullable=False),  # the bytes as text, undecodable bytes escaped
    Column("symbology", Text),
    Column("gtin", Text),
    Column("serial", Text),
    Column("batch", Text),
    Column("status", Text, nullable=False),  # accepted | rejected | duplicate
    Column("reason", Text),
    Column("at", Text, nullable=False),
    Column("mono", Float, nullable=False),
    Column("boot_id", Text, nullable=False),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("part", Text),
    Column("quantity", Text),
    Column("station", Text),
    Column("scanner", Text),
    Column("scan_id", Integer, ForeignKey("scans.id")),
    Column("bom_hash", Text, ForeignKey("bom_structures.bom_hash")),
    Column("reason", Text),
    Column("event_id", Text),
    Column("at", Text, nullable=False),
    Column("mono", Float, nullable=False),
    Column("boot_id", Text, nullable=False),
    Column("voided_by", Integer, ForeignKey("transactions.id")),
    Index("ix_transactions_station", "station", "id"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("txn_id", Integer, ForeignKey("transactions.id"), nullable=False, index=True),
    # Not indexed: see migration 0003 (the balance row tells whether a part has history).
    Column("part", Text, ForeignKey("items.part"), nullable=False),
    Column("quantity", Text, nullable=False),  # signed: + into stock, - out of stock
    Column("kind", Text, nullable=False),
    Column("scan_id", Integer, ForeignKey("scans.id")),
    Column("bom_hash", Text),
)

# Clustered by its key (migration 0010): a shipment writes one B-tree page, not a table's,
# its key index's and a transaction index's. A void finds its serial through its scan.
shipped_serials = Table(
    "shipped_serials",
    metadata,
    Column("gtin", Text, primary_key=True),
    Column("serial", Text, primary_key=True),
    Column("txn_id", Integer, ForeignKey("transactions.id"), nullable=False),
    sqlite_with_rowid=False,
)

reorders = Table(
    "reorders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("part", Text, ForeignKey("items.part"), nullable=False),
    Column("ordered", Text, nullable=False),
    Column("received", Text, nullable=False),
    Column("open", Boolean, nullable=False),
    Column("close_reason", Text),  # received | cancelled
    Column("created_at", Text, nullable=False),
    Column("closed_at", Text),
    # The central system's reference (a purchase order number), from reorder.ack (0007).
    Column("reference", Text),
    Column("acknowledged_at", Text),
    Index("ix_reorders_part_open", "part", "open"),
    Index("ix_reorders_open", "open"),
)

# What each part's open reorders still bring in (ordered less received, never
# below zero), kept with every reorder change (migration 0006): a scan asks for
# it per component, and a part scrapped again and again without a receipt
# piles up open reorders that would otherwise be read and summed every time.
on_order = Table(
    "on_order",
    metadata,
    Column("part", Text, ForeignKey("items.part"), primary_key=True),
    Column("quantity", Text, nullable=False),
)

station_state = Table(
    "station_state",
    metadata,
    Column("station", Text, primary_key=True),
    Column("mode", Text),
    Column("qty", Text),
    Column("qty_at", Text),
    Column("qty_mono", Float),
    Column("qty_boot", Text),
    Column("qty_scan", Integer),
    Column("reason", Text),
    Column("reason_at", Text),
    Column("reason_mono", Float),
    Column("reason_boot", Text),
    Column("reason_scan", Integer),
)

counters = Table(
    "counters",
    metadata,
    # seq | boot | catalog | unpublished (kept by triggers on outbox, migration 0004)
    Column("name", Text, primary_key=True),
    Column("value", Integer, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("published_at", Text),
    Column("attempts", Integer, nullable=False, default=0),  # answers from the broker
    Column("last_error", Text),
    # The broker refused it (e.g. an ACL denial); retried with back-off (0002).
    Column("set_aside", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_outbox_unpublished", "published_at", "seq"),
    # Counting set-aside rows reads only them (the query spells out this WHERE).
    Index(
        "ix_outbox_set_aside",
        "seq",
        sqlite_where=text("set_aside = 1 AND published_at IS NULL"),
    ),
)

# The one row naming the event stream (migration 0005): a UUID made with the
# database and replaced by every restore. An event's seq in its stream is its
# outbox position minus seq_base, the position the stream started after.
stream = Table(
    "stream",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", Text, nullable=False),
    Column("seq_base", Integer, nullable=False),
    Column("started_at", Text, nullable=False),
    CheckConstraint("id = 1", name="ck_stream_single_row"),
)

stock_state = Table(
    "stock_state",
    metadata,
    Column("part", Text, primary_key=True),
    Column("topic", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("published_version", Integer, nullable=False, default=0),
    # As of when the part's message is due (migration 0009): the relay renders it then.
    Column("updated_at", Text, nullable=False, server_default=""),
)

# Kanban cards (migration 0008): one container of a part each, full or empty.
cards = Table(
    "cards",
    metadata,
    Column("card", Text, primary_key=True),
    Column("part", Text, ForeignKey("items.part"), nullable=False, index=True),
    Column("container_qty", Text, nullable=False),
    Column("location", Text, nullable=False, server_default=text("''")),
    Column("state", Text, nullable=False, server_default=text("'full'")),  # full | empty
    Column("emptied_at", Text),  # while empty: when its card was scanned
    Column("updated_at", Text, nullable=False),
)

# Per kanban part: its total used (backflush + scrap + issue) at its previous
# empty-card scan, or when its first card was loaded; the next empty scan
# reconciles one container against what was used since.
kanban_marks = Table(
    "kanban_marks",
    metadata,
    Column("part", Text, ForeignKey("items.part"), primary_key=True),
    Column("used", Text, nullable=False),
    Column("at", Text, nullable=False),
)

# Every count (migration 0008): the book it was compared with, and what the part
# was used for since its previous count, by kind; variance reports read these.
counts = Table(
    "counts",
    metadata,
    Column("txn_id", Integer, ForeignKey("transactions.id"), primary_key=True),
    Column("part", Text, ForeignKey("items.part"), nullable=False),
    Column("counted_at", Text, nullable=False),  # when counted (earlier than posted, maybe)
    Column("previous_at", Text),  # the previous count's counted_at; None for the first
    Column("book", Text, nullable=False),
    Column("counted", Text, nullable=False),
    Column("variance", Text, nullable=False),
    Column("used_backflush", Text, nullable=False),
    Column("used_scrap", Text, nullable=False),
    Column("used_issue", Text, nullable=False),
    Column("used_bom", Text, nullable=False),
    Column("tolerance_pct", Text, nullable=False),
    Index("ix_counts_part", "part", "txn_id"),
)

# Every command from a central system whose command_id could be read, with the
# answer it got (migration 0007), written in the transaction of its effect: a
# repeat of the id is answered "duplicate" with this answer and changes nothing.
commands = Table(
    "commands",
    metadata,
    Column("command_id", Text, primary_key=True),
    Column("command_type", Text),
    Column("status", Text, nullable=False),  # applied | rejected
    Column("answer", Text, nullable=False),  # the answer's JSON, as first sent
    Column("topic", Text, nullable=False),
    Column("reference", Text),  # a stock.receive's reference (a delivery note)
    Column("received_at", Text, nullable=False),
)
