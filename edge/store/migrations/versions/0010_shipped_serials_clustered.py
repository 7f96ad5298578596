"""shipped serials clustered by (GTIN, serial), without a transaction index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:40:00.000000

Every serialized shipment wrote three B-tree pages of ``shipped_serials``:
the table's, its (GTIN, serial) key index's and its ``txn_id`` index's,
three of the fourteen pages a scan's commit writes and checksums. The table
is now ``WITHOUT ROWID``, the key index being the table, and a void frees
its serial through its scan's GTIN and serial instead of a ``txn_id`` index.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild(clustered=True)


def downgrade() -> None:
    _rebuild(clustered=False)


def _rebuild(*, clustered: bool) -> None:
    # SQLite cannot change a table's rowid in place: a new table, the rows copied in
    # key order, the old one dropped (nothing references shipped_serials).
    op.execute("DROP INDEX IF EXISTS ix_shipped_serials_txn_id")
    op.execute("ALTER TABLE shipped_serials RENAME TO shipped_serials_old")
    op.execute(
        "CREATE TABLE shipped_serials (gtin TEXT NOT NULL, serial TEXT NOT NULL, "
        "txn_id INTEGER NOT NULL, PRIMARY KEY (gtin, serial), "
        "FOREIGN KEY(txn_id) REFERENCES transactions (id))"
        + (" WITHOUT ROWID" if clustered else "")
    )
    op.execute(
        "INSERT INTO shipped_serials (gtin, serial, txn_id) "
        "SELECT gtin, serial, txn_id FROM shipped_serials_old ORDER BY gtin, serial"
    )
    op.execute("DROP TABLE shipped_serials_old")
    if not clustered:
        op.execute("CREATE INDEX ix_shipped_serials_txn_id ON shipped_serials (txn_id)")
