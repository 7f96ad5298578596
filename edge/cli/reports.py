"""The commands that only read: stock, scans, events, reorders and cards, as tables or JSON."""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

from edge.cli.arguments import EXIT_OK, open_reader
from edge.cli.render import print_json
from edge.cli.terminal import duration, render_table
from edge.store import queries


@contextlib.contextmanager
def reading(args: argparse.Namespace) -> Iterator[sqlite3.Connection]:
    """The database, read-only, and what went wrong reading it as a StorageError.

    Opened read-only, an old database is left as it is (only ``edge migrate``
    and ``edge run`` upgrade the schema), so a read of it may find the tables
    not as expected.
    """
    connection = open_reader(args)
    try:
        yield connection
    except (sqlite3.Error, queries.SchemaMismatch) as error:
        from edge.store.revisions import StorageError  # noqa: PLC0415 - only on this error

        hint = ""
        if isinstance(error, queries.SchemaMismatch):
            hint = " (a database of an older version? `edge migrate` upgrades its schema)"
        raise StorageError(f"cannot read the database: {error}{hint}") from None
    finally:
        connection.close()


def cmd_stock(args: argparse.Namespace) -> int:
    with reading(args) as connection:
        rows = queries.stock(connection)
    if args.json:
        print_json([row.as_json() for row in rows])
        return EXIT_OK
    print(
        render_table(
            ["part", "on_hand", "on_order", "reorder_point", "uom", "state", "description"],
            [
                (r.part, r.on_hand, r.on_order, r.reorder_point, r.uom, r.state, r.description)
                for r in rows
            ],
        )
    )
    return EXIT_OK


def cmd_scans(args: argparse.Namespace) -> int:
    with reading(args) as connection:
        rows = queries.scans(connection, args.limit)
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(
        render_table(
            ["scan", "at", "station", "scanner", "status", "reason", "code"],
            [
                (
                    r["scan_id"],
                    r["at"],
                    r["station"],
                    r["scanner"],
                    r["status"],
                    r["reason"],
                    r["code"][:60],
                )
                for r in rows
            ],
        )
    )
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    with reading(args) as connection:
        rows = queries.events(connection, pending=args.pending, limit=args.limit)
        summary = queries.outbox_summary(connection) if args.pending else None
    if args.json:
        keys = ("topic", "published", "set_aside", "last_error", "payload")
        print_json([{key: row[key] for key in keys} for row in rows])
        return EXIT_OK
    from edge.domain.events import summarize  # noqa: PLC0415 - the event types, for tables only

    print(
        render_table(
            ["seq", "type", "published", "topic", "summary"],
            [
                (
                    r["seq"],
                    r["payload"]["type"],
                    r["published"],
                    r["topic"],
                    summarize(r["payload"]),
                )
                for r in rows
            ],
        )
    )
    if summary is not None:
        print(
            f"\n{summary.events_pending} events and {summary.stock_pending} stock states "
            "waiting to be published"
        )
        if summary.set_aside:
            print(
                f"{summary.set_aside} of them set aside: refused by the broker (an ACL?) or "
                "too large for it (see last_error in --json), retried with back-off without "
                "holding up the others"
            )
    return EXIT_OK


def cmd_reorders(args: argparse.Namespace) -> int:
    with reading(args) as connection:
        rows = queries.reorders(connection, include_closed=args.all)
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(
        render_table(
            [
                *("reorder", "part", "ordered", "received", "outstanding", "status"),
                *("reference", "created_at"),
            ],
            [
                (
                    r["reorder_id"],
                    r["part"],
                    r["ordered"],
                    r["received"],
                    r["outstanding"],
                    r["status"] if r["close_reason"] is None else r["close_reason"],
                    r["reference"],
                    r["created_at"],
                )
                for r in rows
            ],
        )
    )
    return EXIT_OK


def cmd_cards(args: argparse.Namespace) -> int:
    from edge.store import card_queries  # noqa: PLC0415 - only this command reads cards

    with reading(args) as connection:
        rows = card_queries.cards(connection, datetime.now(UTC), part=args.part)
    if args.json:
        print_json([row.as_json() for row in rows])
        return EXIT_OK
    print(
        render_table(
            ["card", "part", "location", "container_qty", "uom", "state", "empty for", "late"],
            [
                (
                    r.card.card,
                    r.card.part,
                    r.card.location or None,
                    r.card.container_qty,
                    r.uom,
                    r.card.state.value,
                    None if r.empty_for is None else duration(r.empty_for),
                    "LATE" if r.late else "",
                )
                for r in rows
            ],
        )
    )
    return EXIT_OK
