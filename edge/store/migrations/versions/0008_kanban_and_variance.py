"""kanban cards, what each part was used for, and every count's variance

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:00:00.000000

SPEC §13. Items gain ``replenishment`` (reorder | kanban) and
``count_tolerance_pct``. Balances gain the part's cumulative consumption by
kind (backflush, scrap, issue; and the part of it consumed through BOMs),
its daily consumption over the last 14 days and its last count, so the
retained stock message and ``edge stock`` explain on-hand without summing
the ledger. ``cards`` and ``kanban_marks`` hold the kanban cards and where
each kanban part's next reconciliation starts; ``counts`` keeps every count
with its book and consumption since the previous one.

Parts with history before this revision start with zero consumption: the
ledger is not replayed, so "consumption since" counts from the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_USED = ("used_backflush", "used_scrap", "used_issue", "used_bom")


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, each with a constant default: Alembic
    # would copy items and balances instead, which the foreign keys on items refuse.
    op.execute("ALTER TABLE items ADD COLUMN replenishment TEXT NOT NULL DEFAULT 'reorder'")
    op.execute("ALTER TABLE items ADD COLUMN count_tolerance_pct TEXT")
    for name in _USED:
        op.execute(f"ALTER TABLE balances ADD COLUMN {name} TEXT NOT NULL DEFAULT '0'")
    op.execute("ALTER TABLE balances ADD COLUMN daily_use TEXT NOT NULL DEFAULT ''")
    for name in ("counted_at", "counted", "counted_used"):
        op.execute(f"ALTER TABLE balances ADD COLUMN {name} TEXT")
    op.create_table(
        "cards",
        sa.Column("card", sa.Text(), primary_key=True),
        sa.Column("part", sa.Text(), sa.ForeignKey("items.part"), nullable=False),
        sa.Column("container_qty", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("state", sa.Text(), nullable=False, server_default=sa.text("'full'")),
        sa.Column("emptied_at", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Text(), nullable=False),
    )
    op.create_index("ix_cards_part", "cards", ["part"])
    op.create_table(
        "kanban_marks",
        sa.Column("part", sa.Text(), sa.ForeignKey("items.part"), primary_key=True),
        sa.Column("used", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
    )
    op.create_table(
        "counts",
        sa.Column("txn_id", sa.Integer(), sa.ForeignKey("transactions.id"), primary_key=True),
        sa.Column("part", sa.Text(), sa.ForeignKey("items.part"), nullable=False),
        sa.Column("counted_at", sa.Text(), nullable=False),
        sa.Column("previous_at", sa.Text(), nullable=True),
        sa.Column("book", sa.Text(), nullable=False),
        sa.Column("counted", sa.Text(), nullable=False),
        sa.Column("variance", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in _USED),
        sa.Column("tolerance_pct", sa.Text(), nullable=False),
    )
    op.create_index("ix_counts_part", "counts", ["part", "txn_id"])


def downgrade() -> None:
    op.drop_index("ix_counts_part", table_name="counts")
    op.drop_table("counts")
    op.drop_table("kanban_marks")
    op.drop_index("ix_cards_part", table_name="cards")
    op.drop_table("cards")
    # SQLite (3.35+) drops a column in place when nothing indexes or references it;
    # Alembic would copy the table instead, which the foreign keys on items refuse.
    for name in ("counted_used", "counted", "counted_at", "daily_use", *reversed(_USED)):
        op.execute(f"ALTER TABLE balances DROP COLUMN {name}")
    op.execute("ALTER TABLE items DROP COLUMN count_tolerance_pct")
    op.execute("ALTER TABLE items DROP COLUMN replenishment")
