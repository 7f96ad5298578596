"""Table rows as the domain's records, and records as the parameters of a row.

Quantities are stored as TEXT holding exact decimal literals, NULL standing
for "none"; times as RFC 3339 text with the monotonic reading and boot id
beside them. Each ``*_COLUMNS`` list declares, once, the order in which the
function below it reads or writes a row's values; statements.py builds the
matching SQL from the same list.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from edge.domain.model import Card, CardState, Item, Reorder, ReorderPolicy, Replenishment
from edge.domain.ports import (
    Balance,
    Moment,
    PendingControl,
    ScanRecord,
    StationState,
    TransactionRecord,
)
from edge.domain.quantity import ZERO, from_storage, to_storage
from edge.domain.timestamps import parse_rfc3339, rfc3339
from edge.domain.usage import (
    CountRecord,
    DailyUse,
    LastCount,
    Usage,
    format_daily,
    format_daily_after,
    parse_daily,
)


def optional_quantity(text: str | None) -> Decimal | None:
    return None if text is None else from_storage(text)


def optional_storage(value: Decimal | None) -> str | None:
    return None if value is None else to_storage(value)


def item_from_row(row: Any, aliases: tuple[str, ...]) -> Item:
    return Item(
        part=row.part,
        description=row.description,
        uom=row.uom,
        stocked=bool(row.stocked),
        policy=ReorderPolicy(
            reorder_point=optional_quantity(row.reorder_point),
            reorder_qty=optional_quantity(row.reorder_qty),
            max_qty=optional_quantity(row.max_qty),
            order_multiple=optional_quantity(row.order_multiple),
            lead_time_days=row.lead_time_days,
        ),
        aliases=aliases,
        replenishment=Replenishment(row.replenishment),
        count_tolerance_pct=optional_quantity(row.count_tolerance_pct),
    )


# A balance row: the stock, what it was used for (cumulative), its daily use, its last count.
BALANCE_COLUMNS = (
    *("part", "on_hand", "armed"),
    *("used_backflush", "used_scrap", "used_issue", "used_bom", "daily_use"),
    *("counted_at", "counted", "counted_used"),
)


def usage_values(usage: Usage) -> tuple[str, str, str, str]:
    # A part used by one kind only keeps ZERO itself for the others (from_storage reads
    # "0" as it): written without a call, four marks a part of every scan.
    backflush, scrap, issue, bom = usage
    return ("0" if backflush is ZERO else to_storage(backflush),
            "0" if scrap is ZERO else to_storage(scrap),
            "0" if issue is ZERO else to_storage(issue),
            "0" if bom is ZERO else to_storage(bom))  # fmt: skip


def usage_from_values(values: tuple[Any, ...]) -> Usage:
    backflush, scrap, issue, bom = values
    return Usage(from_storage(backflush), from_storage(scrap), from_storage(issue),
                 from_storage(bom))  # fmt: skip


def balance_from_row(row: tuple[Any, ...]) -> Balance:
    """A balance from a row of ``BALANCE_COLUMNS`` without the part."""
    on_hand, armed, *used, daily, counted_at, counted, counted_used = row
    last = None
    if counted_at is not None:
        last = LastCount(counted_at, from_storage(counted), _usage_mark(counted_used))
    return Balance(from_storage(on_hand), bool(armed), usage_from_values(tuple(used)),
                   parse_daily(daily), last)  # fmt: skip


def _usage_mark(text: str) -> Usage:
    """A count's usage mark as stored: ``backflush scrap issue bom``."""
    return usage_from_values(tuple(text.split(" ")))


def balance_values(part: str, balance: Balance, daily: str | None = None) -> tuple[Any, ...]:
    """A part's balance as values of ``BALANCE_COLUMNS``; ``daily``: its daily use's text."""
    last = balance.counted
    counted = (None, None, None) if last is None else (
        last.at, to_storage(last.counted), " ".join(usage_values(last.used)),
    )  # fmt: skip
    if daily is None:
        daily = format_daily(balance.daily)
    return (part, to_storage(balance.on_hand), balance.armed, *usage_values(balance.used),
            daily, *counted)  # fmt: skip


class DailyTexts:
    """The daily use's text of the balances written last, to write the next from.

    Two weeks of use is 14 entries a part; a scan changes today's alone
    (usage.format_daily_after). Kept per part, whatever rolled back since:
    a text is always the text of the very tuple it is kept with.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._last: dict[str, tuple[DailyUse, str]] = {}

    def balance_values(self, part: str, balance: Balance) -> tuple[Any, ...]:
        days, kept = balance.daily, self._last
        last = kept.get(part)
        if last is None:
            if len(kept) >= self._capacity:
                kept.clear()
            text = format_daily(days)
        else:
            text = format_daily_after(days, *last)
        kept[part] = (days, text)
        return balance_values(part, balance, text)


CARD_COLUMNS = ("card", "part", "container_qty", "location", "state", "emptied_at")


def card_from_row(row: tuple[Any, ...]) -> Card:
    """A card from a row of ``CARD_COLUMNS``."""
    card, part, container_qty, location, state, emptied_at = row
    return Card(card, part, from_storage(container_qty), location, CardState(state), emptied_at)


COUNT_COLUMNS = (
    *("txn_id", "part", "counted_at", "previous_at", "book", "counted", "variance"),
    *("used_backflush", "used_scrap", "used_issue", "used_bom", "tolerance_pct"),
)


def count_values(txn_id: int, record: CountRecord) -> tuple[Any, ...]:
    """A count as values of ``COUNT_COLUMNS``."""
    return (txn_id, record.part, record.counted_at, record.previous_at,
            to_storage(record.book), to_storage(record.counted), to_storage(record.variance),
            *usage_values(record.used), to_storage(record.tolerance_pct))  # fmt: skip


def count_from_row(row: tuple[Any, ...]) -> CountRecord:
    """A count from a row of ``COUNT_COLUMNS`` without the transaction id."""
    part, counted_at, previous_at, book, counted, variance, *used, tolerance = row
    return CountRecord(part, counted_at, previous_at, from_storage(book), from_storage(counted),
                       from_storage(variance), usage_from_values(tuple(used)),
                       from_storage(tolerance))  # fmt: skip


REORDER_COLUMNS = ("id", "part", "ordered", "received", "open", "created_at", "close_reason")


def reorder_from_row(values: tuple[Any, ...]) -> Reorder:
    """A reorder from a row of ``REORDER_COLUMNS``."""
    reorder_id, part, ordered, received, is_open, created_at, close_reason = values
    return Reorder(
        id=reorder_id,
        part=part,
        ordered=from_storage(ordered),
        received=from_storage(received),
        open=bool(is_open),
        created_at=created_at,
        close_reason=close_reason,
    )


TRANSACTION_COLUMNS = (
    "kind",
    "part",
    "quantity",
    "station",
    "scanner",
    "scan_id",
    "bom_hash",
    "reason",
    "at",
    "mono",
    "boot_id",
)


def transaction_values(
    kind: str,
    at: Moment,
    *,
    part: str | None,
    quantity: Decimal | None,
    station: str | None,
    scanner: str | None,
    scan_id: int | None,
    bom_hash: str | None,
    reason: str | None,
) -> tuple[Any, ...]:
    """A new transaction as values of ``TRANSACTION_COLUMNS``."""
    return (
        kind,
        part,
        optional_storage(quantity),
        station,
        scanner,
        scan_id,
        bom_hash,
        reason,
        rfc3339(at.wall),
        at.monotonic,
        at.boot_id,
    )


# A whole transaction as read back: its id, TRANSACTION_COLUMNS, then these.
TRANSACTION_ROW = ("id", *TRANSACTION_COLUMNS, "event_id", "voided_by")


def transaction_from_row(row: tuple[Any, ...]) -> TransactionRecord:
    """A transaction from a row of ``TRANSACTION_ROW``."""
    (txn_id, kind, part, quantity, station, scanner, scan_id, _bom_hash, _reason, at, mono,
     boot_id, event_id, voided_by) = row  # fmt: skip
    return TransactionRecord(
        id=txn_id,
        kind=kind,
        part=part,
        quantity=optional_quantity(quantity),
        station=station,
        scanner=scanner,
        scan_id=scan_id,
        event_id=event_id,
        at=Moment(parse_rfc3339(at), mono, boot_id),
        voided_by=voided_by,
    )


# The two pending controls are five columns each, in the same order.
STATION_STATE_COLUMNS = (
    "station",
    "mode",
    "qty",
    "qty_at",
    "qty_mono",
    "qty_boot",
    "qty_scan",
    "reason",
    "reason_at",
    "reason_mono",
    "reason_boot",
    "reason_scan",
)


def station_state_from_row(row: tuple[Any, ...]) -> StationState:
    """A station's state from a row of ``STATION_STATE_COLUMNS`` without the station."""

    def pending(values: tuple[Any, ...]) -> PendingControl | None:
        value, at, mono, boot, scan_id = values
        if value is None:
            return None
        return PendingControl(value, Moment(parse_rfc3339(at), mono, boot), scan_id)

    return StationState(qty=pending(row[1:6]), reason=pending(row[6:11]), mode=row[0])


def station_state_values(station: str, state: StationState) -> tuple[Any, ...]:
    """A station's state as values of ``STATION_STATE_COLUMNS``."""
    values: list[Any] = [station, state.mode]
    for pending in (state.qty, state.reason):
        if pending is None:
            values += [None] * 5
        else:
            at = pending.at
            values += [pending.value, rfc3339(at.wall), at.monotonic, at.boot_id,
                       pending.scan_id]  # fmt: skip
    return tuple(values)


SCAN_COLUMNS = (
    "scanner",
    "station",
    "data",
    "code",
    "symbology",
    "gtin",
    "serial",
    "batch",
    "status",
    "reason",
    "at",
    "mono",
    "boot_id",
)


def scan_values(scan: ScanRecord, status: str, reason: str | None) -> tuple[Any, ...]:
    """A scan and its outcome as values of ``SCAN_COLUMNS``."""
    return (
        scan.scanner,
        scan.station,
        scan.data,
        scan.code,
        scan.symbology,
        scan.gtin,
        scan.serial,
        scan.batch,
        status,
        reason,
        rfc3339(scan.at.wall),
        scan.at.monotonic,
        scan.at.boot_id,
    )
