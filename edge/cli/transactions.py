"""The commands that post to the ledger: scans typed by hand, receipts, counts, builds, cancels."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from edge.cli.arguments import (
    EXIT_FAILURE,
    EXIT_OK,
    UsageError,
    build_quantity_arg,
    open_service,
    part_arg,
    quantity_arg,
    read_config,
    time_arg,
)
from edge.cli.terminal import counted
from edge.config import Config, StationConfig
from edge.domain.inventory import Inventory, Origin, Rejection
from edge.domain.model import StationMode
from edge.domain.quantity import format_quantity
from edge.domain.scanning import ScanInput
from edge.domain.usage import CountRecord, over_tolerance, variance_pct
from edge.runtime.bootstrap import build_service
from edge.runtime.clock import SystemClock
from edge.service import InventoryService, PendingScan
from edge.store.unit_of_work import SqlUnitOfWork
from hardware.barcode import decode


def transact(
    service: InventoryService, operation: Callable[[Inventory, SqlUnitOfWork], str]
) -> int:
    try:
        message = service.transact(operation)
    except Rejection as rejection:
        raise UsageError(rejection.message) from None
    print(message)
    return EXIT_OK


def configured_station(config: Config, station_id: str) -> StationConfig:
    """The station of the config named on the command line; a usage error naming the others."""
    try:
        return config.station(station_id)
    except KeyError:
        known = ", ".join(station.id for station in config.stations) or "none configured"
        raise UsageError(f"unknown station {station_id!r} (stations: {known})") from None


def cmd_scan(args: argparse.Namespace) -> int:
    config = read_config(args)
    configured_station(config, args.station)
    service = build_service(config)
    clock = SystemClock()
    all_accepted = True
    for code in args.codes:
        data = code.encode("utf-8")
        scan = ScanInput(scanner="cli", station=args.station, data=data, at=clock.moment())
        [outcome] = service.process_scans([PendingScan(scan, decode(data))])
        all_accepted &= outcome.good
        status = outcome.status.upper()
        reason = f" {outcome.reason}:" if outcome.reason else ""
        print(f"{status:<9} scan {outcome.scan_id}{reason} {outcome.message}")
    return EXIT_OK if all_accepted else EXIT_FAILURE


def cmd_receive(args: argparse.Namespace) -> int:
    if args.card is not None:
        if args.part is not None or args.reorder is not None:
            raise UsageError("--card receives the card's container: give no PART QTY or --reorder")
        return _receive_card(args)
    if args.part is None or args.qty is None:
        raise UsageError("give PART QTY, e.g. edge receive RM-HOUSING 12, or --card ID")
    part, quantity = part_arg(args.part), quantity_arg(args.qty)
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        inventory.receive(part, quantity, at, reorder_id=args.reorder)
        return (
            f"received {format_quantity(quantity)} x {part}; on hand "
            f"{format_quantity(inventory.store.balance(part).on_hand)}, on order "
            f"{format_quantity(inventory.on_order(part))}"
        )

    return transact(open_service(args), operation)


def _receive_card(args: argparse.Namespace) -> int:
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        card = inventory.card(args.card)
        inventory.receive_card(card.card, at, Origin(scanner="cli"))
        return (
            f"card {card.card} refilled: received {format_quantity(card.container_qty)} x "
            f"{card.part}; on hand {format_quantity(inventory.store.balance(card.part).on_hand)}"
        )

    return transact(open_service(args), operation)


def cmd_count(args: argparse.Namespace) -> int:
    part, counted = part_arg(args.part), quantity_arg(args.qty)
    counted_at = time_arg(args.counted_at) if args.counted_at is not None else None
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        record = inventory.count(part, counted, at, counted_at=counted_at).count
        assert record is not None  # a count's Posted carries it
        return _count_line(record)

    return transact(open_service(args), operation)


def _count_line(record: CountRecord) -> str:
    """What ``edge count`` says: the book met, the variance and its share of the use since."""
    used = record.used.total
    pct = variance_pct(record.variance, used)
    share = "" if pct is None else f", {format_quantity(pct)} % of {format_quantity(used)} used"
    beyond = over_tolerance(record.variance, used, record.tolerance_pct)
    return (
        f"counted {format_quantity(record.counted)} x {record.part} at {record.counted_at} "
        f"(book {format_quantity(record.book)}, variance {format_quantity(record.variance)}"
        f"{share}; {'beyond' if beyond else 'within'} the "
        f"{format_quantity(record.tolerance_pct)} % tolerance)"
    )


def cmd_build(args: argparse.Namespace) -> int:
    part, quantity = part_arg(args.part), build_quantity_arg(args.qty)
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        posted = inventory.build(part, quantity, at)
        issued = counted(len(posted.lines), "component")
        return f"built {format_quantity(quantity)} x {part}; issued {issued}"

    return transact(open_service(args), operation)


def cmd_issue(args: argparse.Namespace) -> int:
    """Issue stock to a use that ships nothing; ``--station`` checks its issue_reasons."""
    part, quantity = part_arg(args.part), quantity_arg(args.qty)
    if quantity <= 0:
        raise UsageError(f"the quantity {args.qty!r} of an issue must be greater than zero")
    config = read_config(args)
    allowed: tuple[str, ...] | None = None
    if args.station is not None:
        station = configured_station(config, args.station)
        if station.mode is not StationMode.ISSUE:
            raise UsageError(f"station {station.id} is a {station.mode} station, not an issue one")
        allowed = station.issue_reasons
    at = SystemClock().moment()
    origin = Origin(station=args.station)

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        posted = inventory.issue(part, quantity, at, origin, reason=args.reason, allowed=allowed)
        issued = counted(len(posted.lines), "part")
        return f"issued {format_quantity(quantity)} x {part} ({args.reason.strip()}): {issued}"

    return transact(build_service(config), operation)


def cmd_reorder_cancel(args: argparse.Namespace) -> int:
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        inventory.cancel_reorder(args.id, at)
        return f"reorder {args.id} cancelled"

    return transact(open_service(args), operation)
