"""``items.upsert``, ``bom.replace``, ``cards.upsert``: the one apply path of ``edge import``.

The rows are read by the apply path's own JSON reader
(:func:`edge.masterdata.apply.json_rows`, :func:`~edge.masterdata.apply.json_bom_rows`),
validated outside the write lock and applied in one short transaction
(:func:`~edge.masterdata.apply.upsert_items`, :func:`~edge.masterdata.apply.replace_boms`),
exactly as a CSV file is. ``if_catalog_version`` is the apply path's: checked
again under the write lock. The command's answer is written by ``answer``
inside that transaction (the apply path's ``in_transaction``), so the change,
the command's row and its ``command-result`` event commit together.
"""

from __future__ import annotations

from typing import Final

from edge.commands.parse import Command, CommandError
from edge.masterdata.apply import (
    CARD_COLUMNS,
    ITEM_COLUMNS,
    ImportRefused,
    InTransaction,
    json_bom_rows,
    json_rows,
    replace_boms,
    upsert_cards,
    upsert_items,
)
from edge.service import InventoryService

CATALOG_CHANGES: Final = frozenset({"items.upsert", "bom.replace", "cards.upsert"})
"""The command types applied through the master-data apply path."""


def apply_catalog_change(
    service: InventoryService, command: Command, answer: InTransaction
) -> list[CommandError]:
    """Apply the change, calling ``answer`` in its transaction; the errors, empty when applied."""
    wanted = command.if_catalog_version
    try:
        if command.type == "items.upsert":
            rows = json_rows(command.fields["items"], "$.items", ITEM_COLUMNS)
            upsert_items(service, rows, if_catalog_version=wanted, in_transaction=answer)
        elif command.type == "cards.upsert":
            rows = json_rows(command.fields["cards"], "$.cards", CARD_COLUMNS)
            upsert_cards(service, rows, if_catalog_version=wanted, in_transaction=answer)
        else:
            rows = json_bom_rows(command.fields["parents"], "$.parents")
            replace_boms(service, rows, if_catalog_version=wanted, in_transaction=answer)
    except ImportRefused as refused:
        return [CommandError(error.where, error.message) for error in refused.errors]
    return []
