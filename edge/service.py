"""The application service: units of work around the domain's operations.

Every process (the daemon, ``edge scan``, ``edge receive`` ...) goes through
this one class, so a scan typed at the command line is processed exactly as
one read by a scanner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.domain.inventory import Identity, Inventory
from edge.domain.model import DEFAULT_POLICY, InventoryPolicy, Station
from edge.domain.scanning import BarcodeLike, ScanInput, ScanOutcome, ScanProcessor
from edge.store.catalog import CatalogCache
from edge.store.database import BUSY_TIMEOUT_MS
from edge.store.kept import KeptState
from edge.store.revisions import DatabaseBusy, StorageError, is_lock_wait
from edge.store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")

# Told the outcomes of a commit as soon as it is durable (see process_scans).
Committed = Callable[[Sequence[ScanOutcome]], None]


class PendingScan(NamedTuple):
    """A read waiting to be journaled.

    ``duplicate`` was decided by the debouncer; ``reject_reason`` journals the
    scan as rejected without applying it (a scan refused earlier, e.g. while
    the database could not be written).
    """

    scan: ScanInput
    barcode: BarcodeLike
    duplicate: bool = False
    reject_reason: str | None = None


class InventoryService:
    def __init__(
        self,
        engine: Engine,
        identity: Identity,
        topic_prefix: str,
        stations: Sequence[Station],
        policy: InventoryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.identity = identity
        self.topic_prefix = topic_prefix
        self.stations = {station.id: station for station in stations}
        self.catalog = CatalogCache()
        # What one transaction read is kept for the next (see kept.py).
        self.kept = KeptState()

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.catalog, self.topic_prefix, self.kept)

    @contextmanager
    def holding_a_connection(self) -> Iterator[None]:
        """Units of work share one connection until the block ends (the scan writer's run).

        Checking a connection out of the pool, resetting it and giving it back
        cost a one-scan transaction more than its statements. The connection
        is closed when the block ends, before anyone disposes of the engine.
        """
        held = self.kept.connection = self.engine.connect()
        try:
            yield
        finally:
            if self.kept.connection is held:
                self.kept.connection = None
            held.close()

    def update_stations(self, stations: Sequence[Station]) -> None:
        """Apply a reloaded config's stations (a changed mode drops pending QTY/RSN)."""
        self.stations = {station.id: station for station in stations}

    def transact(
        self,
        operation: Callable[[Inventory, SqlUnitOfWork], T],
        committed: Callable[[T], None] | None = None,
    ) -> T:
        """Run one operation in its own transaction and commit it.

        ``committed`` is given the operation's result as soon as the commit is
        durable, before the unit of work's own bookkeeping; it must not raise.
        """
        try:
            with self.unit_of_work() as uow:
                result = operation(Inventory(uow, self.identity, self.policy), uow)
                uow.commit(None if committed is None else lambda: committed(result))
        except SQLAlchemyError as error:
            if is_lock_wait(error):
                raise DatabaseBusy(
                    "another process held the database's write lock for longer than "
                    f"{BUSY_TIMEOUT_MS / 1000:g} s"
                ) from error
            raise StorageError(f"the database could not be written: {error}") from error
        return result

    def process_scans(
        self, pending: Sequence[PendingScan], committed: Committed | None = None
    ) -> list[ScanOutcome]:
        """Journal and apply scans in one durable commit, each scan all-or-nothing.

        The rules refuse a scan before it writes anything but its journal row,
        so a batch needs no savepoint per scan. If a scan raises something
        else (a bug), the batch is rolled back and its scans are taken one at
        a time, each in a transaction of its own, so the failing scan alone is
        journaled as rejected / internal-error.

        ``committed`` is told the outcomes of each commit, in order, as soon
        as it is durable (the scan writer answers the operators there); by the
        return, it has been told of every outcome returned.

        Raises :class:`StorageError` when the database cannot be written,
        :class:`DatabaseBusy` when another process held its write lock past
        the busy timeout; :class:`StoredInPart` (with ``busy`` telling which)
        when the scans taken one at a time were stored up to one of them.
        """
        if not pending:
            return []
        try:
            return self._commit_batch(pending, committed)
        except _ScanFailed as failed:
            if len(pending) == 1:
                return [self._journal_failure(pending[0], failed, committed)]
        outcomes: list[ScanOutcome] = []
        for item in pending:
            try:
                try:
                    outcomes += self._commit_batch([item], committed)
                except _ScanFailed as failed:
                    outcomes.append(self._journal_failure(item, failed, committed))
            except StorageError as error:
                raise StoredInPart(str(error), outcomes) from error
        return outcomes

    def _commit_batch(
        self, pending: Sequence[PendingScan], committed: Committed | None
    ) -> list[ScanOutcome]:
        def apply_all(inventory: Inventory, uow: SqlUnitOfWork) -> list[ScanOutcome]:
            uow.expect_serials(_serials(pending))
            processor = ScanProcessor(inventory, self.stations)
            return [_apply(processor, item) for item in pending]

        return self.transact(apply_all, committed)

    def _journal_failure(
        self, item: PendingScan, failed: _ScanFailed, committed: Committed | None
    ) -> ScanOutcome:
        log.error(
            "scan %r from %s failed; journaled as internal-error",
            item.scan.data[:80],
            item.scan.scanner,
            exc_info=failed.__cause__,
        )
        return self.transact(
            lambda inventory, _uow: ScanProcessor(inventory, self.stations).journal_rejection(
                item.scan,
                item.barcode,
                "internal-error",
                "internal error while processing the scan (see the log)",
                event=False,
            ),
            None if committed is None else lambda outcome: committed([outcome]),
        )


class StoredInPart(StorageError):
    """The database failed after the first ``len(outcomes)`` scans were committed."""

    def __init__(self, message: str, outcomes: list[ScanOutcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes

    @property
    def busy(self) -> bool:
        """Whether the failure was a lock held elsewhere, not the storage."""
        return isinstance(self.__cause__, DatabaseBusy)


class _ScanFailed(Exception):
    """A scan raised something that is neither a rule's refusal nor a storage failure."""


def _serials(pending: Sequence[PendingScan]) -> set[tuple[str, str]]:
    """The (GTIN, serial) pairs the batch's codes carry: what a ship scan asks about."""
    pairs: set[tuple[str, str]] = set()
    for item in pending:
        gs1 = item.barcode.gs1
        if gs1 is not None and gs1.gtin is not None and gs1.serial is not None:
            pairs.add((gs1.gtin, gs1.serial))
    return pairs


def _apply(processor: ScanProcessor, item: PendingScan) -> ScanOutcome:
    try:
        if item.duplicate:
            return processor.journal_duplicate(item.scan, item.barcode)
        if item.reject_reason is not None:
            return processor.journal_rejection(
                item.scan,
                item.barcode,
                item.reject_reason,
                f"refused when read ({item.reject_reason})",
                event=True,
            )
        return processor.process(item.scan, item.barcode)
    except SQLAlchemyError:
        raise
    except Exception as error:
        raise _ScanFailed(str(error)) from error
