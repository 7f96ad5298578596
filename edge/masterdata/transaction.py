"""Validate outside the write lock, apply in one short transaction: the loop every change takes.

A master-data change (items, BOMs, cards, opening stock; from a CSV file or an
MQTT command) is validated against a snapshot of the database read in a
plain read transaction, which under WAL neither takes nor waits for the
write lock, so the daemon keeps committing scans while a 50,000-row file is
checked. The complete change is then written in one write transaction with
bulk statements.

What was validated must still be what is applied to. The apply transaction
reads the ``catalog`` counter first (every catalog change raises it in its
own transaction); when another change landed after the snapshot, the change
is validated again against a new snapshot, and on the last attempt under
the write lock itself, so the result is always what validating against the
applied-to state gives. State the counter does not cover (a part's stock
history) is checked again inside the transaction by the change's writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Final, Generic, Protocol, TypeVar

from sqlalchemy.engine import Connection

from edge.domain.inventory import Inventory
from edge.masterdata.csv_files import Progress, read_csv
from edge.masterdata.fields import ImportRefused, Rows
from edge.masterdata.summary import ImportSummary
from edge.service import InventoryService
from edge.store.catalog_writes import catalog_version
from edge.store.database import read_only
from edge.store.unit_of_work import SqlUnitOfWork

# Validations against a snapshot before the last one, which runs under the lock.
ATTEMPTS: Final = 3

InTransaction = Callable[[Inventory, SqlUnitOfWork, int], None]
"""Run in the apply transaction after the change, with the catalog version it leaves
(e.g. a command writing its answer in the same commit as the change)."""


class Change(Protocol):
    def summary(self) -> ImportSummary: ...


C = TypeVar("C", bound=Change)


@dataclass(frozen=True, slots=True)
class Applied:
    """What an applied change did.

    ``catalog_version``: the catalog's version after the change (raised by
    item, BOM and card changes; opening stock leaves it). ``lock_seconds``: how
    long the apply transaction held the write lock. ``validations``: how
    many times the rows were validated (more than 1 when the catalog changed
    meanwhile).
    """

    catalog_version: int
    summary: ImportSummary
    lock_seconds: float
    validations: int


@dataclass(frozen=True, slots=True)
class Plan(Generic[C]):
    """How one kind of change is validated and written."""

    validate: Callable[[Rows, Connection], C]
    write: Callable[[Inventory, SqlUnitOfWork, C], None]
    changes_catalog: bool

    def apply(
        self,
        service: InventoryService,
        rows: Rows,
        *,
        if_catalog_version: int | None = None,
        progress: Progress | None = None,
        in_transaction: InTransaction | None = None,
    ) -> Applied:
        """Apply ``rows`` (CSV or JSON) all or nothing: see :func:`apply_change`."""
        return apply_change(service, rows, self, if_catalog_version=if_catalog_version,
                            progress=progress, in_transaction=in_transaction)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CsvImport(Generic[C]):
    """``edge import KIND FILE``: a CSV file's rows, read with its columns, through a plan."""

    plan: Plan[C]
    columns: tuple[str, ...]
    required: tuple[str, ...]

    def __call__(
        self, service: InventoryService, path: Path, progress: Progress | None = None
    ) -> ImportSummary:
        rows = read_csv(path, self.columns, self.required, progress)
        return self.plan.apply(service, rows, progress=progress).summary


class _CatalogMoved(Exception):
    """Another catalog change landed between the snapshot and the apply transaction."""


def apply_change(
    service: InventoryService,
    rows: Rows,
    plan: Plan[C],
    *,
    if_catalog_version: int | None = None,
    progress: Progress | None = None,
    in_transaction: InTransaction | None = None,
) -> Applied:
    """Validate ``rows`` and apply them all, or raise :class:`ImportRefused` changing nothing."""
    tell = progress or (lambda _message: None)
    if rows.read_errors_stop:
        rows.raise_if_errors()
    count = len(rows.rows)
    for attempt in range(1, ATTEMPTS + 1):
        last = attempt == ATTEMPTS
        snapshot_version: int | None = None
        change: C | None = None
        if not last:
            started = perf_counter()
            with read_only(service.engine) as connection, connection.begin():
                snapshot_version = catalog_version(connection)
                _check_wanted(rows, if_catalog_version, snapshot_version)
                change = plan.validate(rows, connection)
            rows.raise_if_errors()
            tell(f"{count} rows validated in {perf_counter() - started:.1f} s")
        try:
            version, applied, seconds = _apply_once(
                service, rows, plan, change=change, snapshot_version=snapshot_version,
                wanted=if_catalog_version, in_transaction=in_transaction,
            )  # fmt: skip
        except _CatalogMoved:
            tell("the catalog changed meanwhile; validating again")
            continue
        tell(f"{count} rows applied in one transaction holding the write lock {seconds:.2f} s")
        return Applied(version, applied.summary(), seconds, attempt)
    raise AssertionError("unreachable: the last attempt validates under the lock")


def _apply_once(
    service: InventoryService,
    rows: Rows,
    plan: Plan[C],
    *,
    change: C | None,
    snapshot_version: int | None,
    wanted: int | None,
    in_transaction: InTransaction | None,
) -> tuple[int, C, float]:
    """Write ``change`` (validated at ``snapshot_version``), or validate it here when None.

    The catalog version left, the change written, and how long the lock was held.
    """
    held: list[float] = []

    def operation(inventory: Inventory, uow: SqlUnitOfWork) -> tuple[int, C]:
        held.append(perf_counter())
        current = catalog_version(uow.connection)
        _check_wanted(rows, wanted, current)
        checked = change
        if checked is None:
            # The last attempt: validated under the lock, where nothing can move.
            checked = plan.validate(rows, uow.connection)
            rows.raise_if_errors()
        elif snapshot_version != current:
            raise _CatalogMoved
        plan.write(inventory, uow, checked)
        rows.raise_if_errors()  # what the writer found (e.g. history posted meanwhile)
        version = current
        if plan.changes_catalog:
            uow.bump_catalog()
            version = current + 1
        if in_transaction is not None:
            in_transaction(inventory, uow, version)
        return version, checked

    version, applied = service.transact(operation)
    return version, applied, perf_counter() - held[0]


def _check_wanted(rows: Rows, wanted: int | None, current: int) -> None:
    if wanted is not None and wanted != current:
        rows.whole(
            "if_catalog_version",
            f"the catalog is at version {current}, not {wanted}: the change was made "
            "against another catalog; nothing was changed",
        )
        raise ImportRefused(rows.errors)
