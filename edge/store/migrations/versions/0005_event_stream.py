"""events carry a stream: a UUID made with the database, replaced by every restore

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00.000000

A consumer tracks (node, stream, seq). Putting a backup back used to issue
seqs again with other event_ids; now ``edge restore`` starts a new stream and
its seq restarts at 1. The outbox keeps one ever-growing ``seq`` column (the
relay's order, across streams); an event's seq within its stream is that
position minus the stream's ``seq_base``, the outbox position the stream
started after. An existing database gets a fresh stream at base 0, so its
numbering goes on unchanged.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "stream",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uuid", sa.Text(), nullable=False),
        sa.Column("seq_base", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Text(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_stream_single_row"),
    )
    started = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    op.bulk_insert(
        table, [{"id": 1, "uuid": str(uuid.uuid4()), "seq_base": 0, "started_at": started}]
    )


def downgrade() -> None:
    op.drop_table("stream")
