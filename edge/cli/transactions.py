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
)
from edge.cli.terminal import counted
from edge.config import Config, StationConfig
from edge.domain.inventory import Inventory, Origin, Rejection
from edge.domain.model import StationMode
from edge.domain.quantity import format_quantity
from edge.domain.scanning import ScanInput
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


def cmd_count(args: argparse.Namespace) -> int:
    part, counted = part_arg(args.part), quantity_arg(args.qty)
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        previous = inventory.store.balance(part).on_hand
        inventory.count(part, counted, at)
        return (
            f"counted {format_quantity(counted)} x {part} (was {format_quantity(previous)}, "
            f"variance {format_quantity(counted - previous)})"
        )

    return transact(open_service(args), operation)


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
