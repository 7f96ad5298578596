"""The one apply path for master data, for CSV imports and MQTT commands alike.

Rows come from a CSV file (:func:`edge.masterdata.csv_files.read_csv`) or
from a command's JSON (:func:`json_rows`, :func:`json_bom_rows`); either way
they are validated outside the write lock into a complete change and
applied in one short transaction with bulk statements (transaction.py)::

    upsert_items(service, rows: Rows, *, if_catalog_version: int | None = None,
                 progress: Progress | None = None,
                 in_transaction: InTransaction | None = None) -> Applied
    replace_boms(service, rows: Rows, *, if_catalog_version=None, progress=None,
                 in_transaction=None) -> Applied
    post_opening_stock(service, rows: Rows, at: Moment, *, if_catalog_version=None,
                       progress=None, in_transaction=None) -> Applied
    upsert_cards(service, rows: Rows, *, if_catalog_version=None, progress=None,
                 in_transaction=None) -> Applied

    json_rows(value: object, path: str, fields: Sequence[str]) -> Rows
        # json_rows(payload["items"], "$.items", ITEM_COLUMNS)
    json_bom_rows(value: object, path: str) -> Rows
        # json_bom_rows(payload["parents"], "$.parents"): [{"parent": "P", "lines": [...]}]
        # json_rows(payload["cards"], "$.cards", CARD_COLUMNS)

    class Applied: catalog_version: int; summary: ImportSummary; lock_seconds: float;
                   validations: int
    Progress = Callable[[str], None]                       # one sentence per step
    InTransaction = Callable[[Inventory, SqlUnitOfWork, int], None]
        # runs inside the apply transaction after the change, with the new catalog version

A refusal raises :class:`ImportRefused`; its ``errors`` each have ``where``
(``items.csv:12:3 (uom)`` or ``$.items[3].reorder_qty``), ``message`` and a
``str()`` of ``where: message``. Shape problems of JSON (not a list, an
unknown field) are in the returned ``Rows.errors`` already and refuse the
change when it is applied. ``if_catalog_version`` different from the
catalog's version refuses the change (error at ``$.if_catalog_version``),
checked again under the write lock. A ``Rows`` collects the problems found
in it, so it is applied once: build new rows for another attempt.

A command handler, for example::

    rows = json_rows(payload["items"], "$.items", ITEM_COLUMNS)
    try:
        applied = upsert_items(service, rows, if_catalog_version=wanted,
                               in_transaction=write_the_answer)
    except ImportRefused as refused:
        errors = [(error.where, error.message) for error in refused.errors]
"""

from __future__ import annotations

from edge.masterdata.bom import BOM_COLUMNS, import_bom, replace_boms
from edge.masterdata.cards import CARD_COLUMNS, import_cards, upsert_cards
from edge.masterdata.csv_files import Progress
from edge.masterdata.fields import Fields, ImportRefused, Problem, Rows, SourceError
from edge.masterdata.items import ITEM_COLUMNS, import_items, upsert_items
from edge.masterdata.json_rows import json_bom_rows, json_rows
from edge.masterdata.stock import STOCK_COLUMNS, import_stock, post_opening_stock
from edge.masterdata.summary import ImportSummary
from edge.masterdata.transaction import Applied, InTransaction

__all__ = [
    "BOM_COLUMNS",
    "CARD_COLUMNS",
    "ITEM_COLUMNS",
    "STOCK_COLUMNS",
    "Applied",
    "Fields",
    "ImportRefused",
    "ImportSummary",
    "InTransaction",
    "Problem",
    "Progress",
    "Rows",
    "SourceError",
    "import_bom",
    "import_cards",
    "import_items",
    "import_stock",
    "json_bom_rows",
    "json_rows",
    "post_opening_stock",
    "replace_boms",
    "upsert_cards",
    "upsert_items",
]
