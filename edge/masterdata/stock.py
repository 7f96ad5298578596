"""stock.csv: opening balances, posted only for parts without stock history (SPEC §3).

:func:`validate_stock` checks the rows against a snapshot outside the write
lock (known stock items, no history yet); :func:`write_stock` checks the
history again for all the parts at once inside the apply transaction, since
a scan may have posted to one of them meanwhile, and posts the balances
through the domain (:meth:`edge.domain.inventory.Inventory.open_stock`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Connection

from edge.domain.inventory import Inventory, has_history, not_a_stock_item
from edge.domain.opening import Opening, PlannedOpening, plan_openings
from edge.domain.ports import Moment
from edge.domain.quantity import ZERO
from edge.domain.timestamps import rfc3339
from edge.masterdata.csv_files import Progress, read_csv
from edge.masterdata.fields import Fields, Rows
from edge.masterdata.summary import ImportSummary
from edge.masterdata.transaction import Applied, InTransaction, Plan, apply_change
from edge.publish.topics import stock_topic
from edge.service import InventoryService
from edge.store import catalog_writes
from edge.store.unit_of_work import SqlUnitOfWork

STOCK_COLUMNS = ("part", "on_hand")


def post_opening_stock(
    service: InventoryService,
    rows: Rows,
    at: Moment,
    *,
    if_catalog_version: int | None = None,
    progress: Progress | None = None,
    in_transaction: InTransaction | None = None,
) -> Applied:
    """Post the opening balances of ``rows`` (fields part, on_hand), all or nothing."""

    def validate(rows: Rows, snapshot: Connection) -> StockChange:
        return validate_stock(rows, snapshot, at, service.topic_prefix)

    def write(inventory: Inventory, uow: SqlUnitOfWork, change: StockChange) -> None:
        write_stock(inventory, uow.connection, change, at)

    plan = Plan(validate, write, changes_catalog=False)
    return apply_change(service, rows, plan, if_catalog_version=if_catalog_version,
                        progress=progress, in_transaction=in_transaction)  # fmt: skip


def import_stock(
    service: InventoryService, path: Path, at: Moment, progress: Progress | None = None
) -> ImportSummary:
    """``edge import stock FILE``."""
    file = read_csv(path, STOCK_COLUMNS, STOCK_COLUMNS, progress)
    return post_opening_stock(service, file, at, progress=progress).summary


@dataclass(frozen=True, slots=True)
class StockChange:
    openings: list[tuple[Fields, Opening]]
    planned: list[PlannedOpening]  # the stock rules' outcome for each
    restated: list[tuple[str, str, str]]  # (part, topic, as of): due for the relay

    def summary(self) -> ImportSummary:
        return ImportSummary(len(self.openings))


def validate_stock(rows: Rows, snapshot: Connection, at: Moment, topic_prefix: str) -> StockChange:
    """The openings ``rows`` post, checked against ``snapshot``; errors recorded in ``rows``.

    The stock rules run here too, and each part's retained stock message is
    rendered here, outside the write lock (see Inventory.open_stock).
    """
    items = catalog_writes.all_items(snapshot)
    parents = catalog_writes.bom_parents(snapshot)
    on_order = catalog_writes.quantities_on_order(snapshot)
    seen: dict[str, str] = {}
    openings: list[tuple[Fields, Opening]] = []
    for row in rows.rows:
        part = row.part("part")
        on_hand = row.quantity("on_hand", required=True)
        if on_hand is not None and on_hand < ZERO:
            row.error("on_hand", "an opening balance cannot be negative")
            continue
        if part is None or on_hand is None:
            continue
        if part in seen:
            row.error("part", f"{part!r} is listed again (first {seen[part]})")
            continue
        seen[part] = row.place
        item = items.get(part)
        if item is None or (part in parents and not item.stocked):
            row.error("part", not_a_stock_item(part, known=item is not None).message)
            continue
        opening = Opening(item, on_hand, on_order.get(part, ZERO))
        openings.append((row, opening))
    _refuse_history(openings, snapshot)
    if rows.errors:
        return StockChange(openings, [], [])
    planned = plan_openings([opening for _, opening in openings], at)
    as_of = rfc3339(at.wall)
    restated = [
        (entry.opening.part, stock_topic(topic_prefix, entry.opening.part), as_of)
        for entry in planned
    ]
    return StockChange(openings, planned, restated)


def write_stock(
    inventory: Inventory, connection: Connection, change: StockChange, at: Moment
) -> None:
    """Post the openings; refused (errors in their rows) if any part has history by now."""
    if _refuse_history(change.openings, connection):
        return
    inventory.open_stock(change.planned, at)
    catalog_writes.restate_stock(connection, change.restated)


def _refuse_history(openings: list[tuple[Fields, Opening]], connection: Connection) -> bool:
    """Record an error for each part that has ledger rows; whether there was any."""
    posted = catalog_writes.parts_with_history(connection, [o.part for _, o in openings])
    for row, opening in openings:
        if opening.part in posted:
            row.error("part", has_history(opening.part).message)
    return bool(posted)
