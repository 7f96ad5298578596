"""the retained stock message is rendered when it is published, not stored

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:00:00.000000

``stock_state`` kept each part's rendered ``stock/{part}`` message, written
by every transaction for every part it touched: rendering it was a fifth of
a one-scan transaction's instructions. It now keeps only that the part is
due again and as of when (``updated_at``); the relay renders the message
from the part's balance, item, quantity on order and cards when it
publishes (``edge.store.stock_messages``).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE stock_state ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''")
    op.execute("UPDATE stock_state SET updated_at = "
               "coalesce(json_extract(payload, '$.updated_at'), '')")  # fmt: skip
    # In place (SQLite 3.35+): nothing indexes or references the column.
    op.execute("ALTER TABLE stock_state DROP COLUMN payload")


def downgrade() -> None:
    # The older program publishes what the column holds; it holds no message
    # here, so every state counts as published: the broker keeps the message
    # it last retained, and the part's next change writes a full one.
    op.execute("ALTER TABLE stock_state ADD COLUMN payload TEXT NOT NULL DEFAULT '{}'")
    op.execute("UPDATE stock_state SET published_version = version")
    op.execute("ALTER TABLE stock_state DROP COLUMN updated_at")
