"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 10:49:18.427706
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bom_structures",
        sa.Column("bom_hash", sa.Text(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("bom_hash"),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "items",
        sa.Column("part", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("uom", sa.Text(), nullable=False),
        sa.Column("stocked", sa.Boolean(), nullable=False),
        sa.Column("reorder_point", sa.Text(), nullable=True),
        sa.Column("reorder_qty", sa.Text(), nullable=True),
        sa.Column("max_qty", sa.Text(), nullable=True),
        sa.Column("order_multiple", sa.Text(), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("part"),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("published_at", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "seq"], unique=False)

    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scanner", sa.Text(), nullable=False),
        sa.Column("station", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("symbology", sa.Text(), nullable=True),
        sa.Column("gtin", sa.Text(), nullable=True),
        sa.Column("serial", sa.Text(), nullable=True),
        sa.Column("batch", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("mono", sa.Float(), nullable=False),
        sa.Column("boot_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "station_state",
        sa.Column("station", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=True),
        sa.Column("qty", sa.Text(), nullable=True),
        sa.Column("qty_at", sa.Text(), nullable=True),
        sa.Column("qty_mono", sa.Float(), nullable=True),
        sa.Column("qty_boot", sa.Text(), nullable=True),
        sa.Column("qty_scan", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reason_at", sa.Text(), nullable=True),
        sa.Column("reason_mono", sa.Float(), nullable=True),
        sa.Column("reason_boot", sa.Text(), nullable=True),
        sa.Column("reason_scan", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("station"),
    )
    op.create_table(
        "stock_state",
        sa.Column("part", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("part"),
    )
    op.create_table(
        "aliases",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("part", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["part"],
            ["items.part"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aliases_part"), ["part"], unique=False)

    op.create_table(
        "balances",
        sa.Column("part", sa.Text(), nullable=False),
        sa.Column("on_hand", sa.Text(), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["part"],
            ["items.part"],
        ),
        sa.PrimaryKeyConstraint("part"),
    )
    op.create_table(
        "bom_lines",
        sa.Column("parent", sa.Text(), nullable=False),
        sa.Column("component", sa.Text(), nullable=False),
        sa.Column("qty_per", sa.Text(), nullable=False),
        sa.Column("scrap_pct", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component"],
            ["items.part"],
        ),
        sa.ForeignKeyConstraint(
            ["parent"],
            ["items.part"],
        ),
        sa.PrimaryKeyConstraint("parent", "component"),
    )
    with op.batch_alter_table("bom_lines", schema=None) as batch_op:
        batch_op.create_index("ix_bom_lines_component", ["component"], unique=False)

    op.create_table(
        "reorders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Text(), nullable=False),
        sa.Column("ordered", sa.Text(), nullable=False),
        sa.Column("received", sa.Text(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["part"],
            ["items.part"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reorders", schema=None) as batch_op:
        batch_op.create_index("ix_reorders_part_open", ["part", "open"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("part", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Text(), nullable=True),
        sa.Column("station", sa.Text(), nullable=True),
        sa.Column("scanner", sa.Text(), nullable=True),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("bom_hash", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("mono", sa.Float(), nullable=False),
        sa.Column("boot_id", sa.Text(), nullable=False),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bom_hash"],
            ["bom_structures.bom_hash"],
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
        ),
        sa.ForeignKeyConstraint(
            ["voided_by"],
            ["transactions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_station", ["station", "id"], unique=False)

    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txn_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("bom_hash", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["part"],
            ["items.part"],
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
        ),
        sa.ForeignKeyConstraint(
            ["txn_id"],
            ["transactions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_part"), ["part"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_txn_id"), ["txn_id"], unique=False)

    op.create_table(
        "shipped_serials",
        sa.Column("gtin", sa.Text(), nullable=False),
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("txn_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["txn_id"],
            ["transactions.id"],
        ),
        sa.PrimaryKeyConstraint("gtin", "serial"),
    )
    with op.batch_alter_table("shipped_serials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipped_serials_txn_id"), ["txn_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shipped_serials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipped_serials_txn_id"))

    op.drop_table("shipped_serials")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_txn_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_part"))

    op.drop_table("ledger")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_station")

    op.drop_table("transactions")
    with op.batch_alter_table("reorders", schema=None) as batch_op:
        batch_op.drop_index("ix_reorders_part_open")

    op.drop_table("reorders")
    with op.batch_alter_table("bom_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_bom_lines_component")

    op.drop_table("bom_lines")
    op.drop_table("balances")
    with op.batch_alter_table("aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aliases_part"))

    op.drop_table("aliases")
    op.drop_table("stock_state")
    op.drop_table("station_state")
    op.drop_table("scans")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")

    op.drop_table("outbox")
    op.drop_table("items")
    op.drop_table("counters")
    op.drop_table("bom_structures")
