"""count the unpublished events as they change; index open reorders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:00:00.000000

The relay reports its backlog every two seconds and `edge events --pending`
prints it. Counting the unpublished outbox rows read every one of them: about
2 us each, so two seconds of work every two seconds after a long outage with
a million events waiting. Triggers now keep that number in ``counters``
("unpublished") in the same transaction as the row change, whichever process
makes it; set-aside rows (a few) are counted through a partial index.

``edge stock`` reads the open reorders; closed ones are kept for ever, so
that read gets an index on ``open``.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TRIGGERS = {
    "outbox_unpublished_insert": """
        CREATE TRIGGER outbox_unpublished_insert AFTER INSERT ON outbox
        WHEN NEW.published_at IS NULL
        BEGIN
            UPDATE counters SET value = value + 1 WHERE name = 'unpublished';
        END
    """,
    "outbox_unpublished_update": """
        CREATE TRIGGER outbox_unpublished_update AFTER UPDATE OF published_at ON outbox
        WHEN (OLD.published_at IS NULL) <> (NEW.published_at IS NULL)
        BEGIN
            UPDATE counters
            SET value = value + CASE WHEN NEW.published_at IS NULL THEN 1 ELSE -1 END
            WHERE name = 'unpublished';
        END
    """,
    "outbox_unpublished_delete": """
        CREATE TRIGGER outbox_unpublished_delete AFTER DELETE ON outbox
        WHEN OLD.published_at IS NULL
        BEGIN
            UPDATE counters SET value = value - 1 WHERE name = 'unpublished';
        END
    """,
}


def upgrade() -> None:
    op.execute(
        "INSERT INTO counters (name, value) "
        "SELECT 'unpublished', count(*) FROM outbox WHERE published_at IS NULL "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    )
    for statement in TRIGGERS.values():
        op.execute(statement)
    op.execute(
        "CREATE INDEX ix_outbox_set_aside ON outbox (seq) "
        "WHERE set_aside = 1 AND published_at IS NULL"
    )
    op.create_index("ix_reorders_open", "reorders", ["open"])


def downgrade() -> None:
    op.drop_index("ix_reorders_open", table_name="reorders")
    op.drop_index("ix_outbox_set_aside", table_name="outbox")
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DELETE FROM counters WHERE name = 'unpublished'")
