"""keep each part's quantity on order in a table of its own

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:00:00.000000

A scan asks, for every component it issues, what the part's open reorders
will still bring in. Summed from the open reorders, that cost grew with their
number: a part scrapped again and again without a receipt opens reorder after
reorder, and each ``edge scan`` read them all. The sum is now kept per part
in ``on_order``, written with every reorder change, and read with one lookup.

The upgrade fills it from the open reorders as they are, with the product's
rule: ordered less received, never below zero. Quantities are exact decimals
(TEXT); the sum is taken in Python, not SQL.
"""

from __future__ import annotations

from decimal import Context, Decimal

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_EXACT = Context(prec=1000)


def _text(value: Decimal) -> str:
    """Plain notation without trailing zeros, as the product writes quantities."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def upgrade() -> None:
    table = op.create_table(
        "on_order",
        sa.Column("part", sa.Text(), sa.ForeignKey("items.part"), primary_key=True),
        sa.Column("quantity", sa.Text(), nullable=False),
    )
    totals: dict[str, Decimal] = {}
    rows = op.get_bind().exec_driver_sql(
        "SELECT part, ordered, received FROM reorders WHERE open IS 1"
    )
    for part, ordered, received in rows:
        outstanding = max(_EXACT.subtract(Decimal(ordered), Decimal(received)), Decimal(0))
        totals[part] = _EXACT.add(totals.get(part, Decimal(0)), outstanding)
    if totals:
        op.bulk_insert(table, [{"part": p, "quantity": _text(q)} for p, q in totals.items()])


def downgrade() -> None:
    op.drop_table("on_order")
