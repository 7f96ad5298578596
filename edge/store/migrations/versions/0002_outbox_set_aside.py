"""outbox rows the broker refused are set aside

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:00:00.000000

A publish the broker refuses (an ACL denial) is set aside and retried with
back-off without holding up later rows. The flag is stored so that another
process (``edge events --pending``) can count such rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("set_aside", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("set_aside")
