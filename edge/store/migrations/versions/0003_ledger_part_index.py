"""drop the ledger's index on part

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:00:00.000000

Every scan appends a row per BOM component to the ledger. An index on the
part column receives those rows at random places, which made a one-scan
commit of a 50-component backflush write about four times the pages of the
ledger rows themselves. Nothing reads the ledger by part on the scan path:
whether a part has history is answered by its balance row, which every
posting saves.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ledger_part", table_name="ledger")


def downgrade() -> None:
    op.create_index("ix_ledger_part", "ledger", ["part"])
