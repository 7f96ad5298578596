"""commands from central systems are kept with their first answer; reorders keep a reference

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00.000000

A command arriving over MQTT (SPEC §11) is kept by its ``command_id`` with
the answer it got, in the same transaction as its effect, so a repeat (a
redelivery after a crash, or the sender trying again) is answered
``duplicate`` with the first answer and changes nothing.

``reorder.ack`` gives a reorder the central system's reference (a purchase
order number); it is kept on the reorder with when it was given.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("command_id", sa.Text(), primary_key=True),
        sa.Column("command_type", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("received_at", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("reorders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reorders", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("reference")
    op.drop_table("commands")
