"""Importing stock.csv: opening balances, posted only for parts without stock history."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from edge.domain.inventory import Inventory, Rejection
from edge.domain.ports import Moment
from edge.domain.quantity import ZERO
from edge.masterdata.csv_files import Progress, Row, raise_if_errors, read_csv
from edge.masterdata.summary import ImportSummary
from edge.service import InventoryService
from edge.store.unit_of_work import SqlUnitOfWork

STOCK_COLUMNS = ("part", "on_hand")


def import_stock(
    service: InventoryService, path: Path, at: Moment, progress: Progress | None = None
) -> ImportSummary:
    file = read_csv(path, STOCK_COLUMNS, STOCK_COLUMNS, progress)
    raise_if_errors(file)
    seen: dict[str, int] = {}
    entries: list[tuple[Row, str, Decimal]] = []
    for row in file.rows:
        part = row.part("part")
        on_hand = row.quantity("on_hand", required=True)
        if on_hand is not None and on_hand < ZERO:
            row.error("on_hand", "an opening balance cannot be negative")
            continue
        if part is None or on_hand is None:
            continue
        if part in seen:
            row.error("part", f"{part!r} is listed again (first on line {seen[part]})")
            continue
        seen[part] = row.line
        entries.append((row, part, on_hand))
    raise_if_errors(file)

    def post(inventory: Inventory, uow: SqlUnitOfWork) -> None:
        for row, part, on_hand in entries:
            try:
                with uow.savepoint():
                    inventory.opening(part, on_hand, at)
            except Rejection as rejection:
                row.error("part", rejection.message)
        raise_if_errors(file)

    service.transact(post)
    return ImportSummary(len(entries))
