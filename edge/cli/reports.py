"""The commands that only read: stock, scans, events and reorders, as tables or JSON."""

from __future__ import annotations

import argparse

from edge.cli.arguments import EXIT_OK, open_service
from edge.cli.render import print_json
from edge.cli.terminal import render_table
from edge.domain.events import summarize
from edge.store import queries


def cmd_stock(args: argparse.Namespace) -> int:
    rows = queries.stock(open_service(args, must_exist=True).engine)
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
    rows = queries.scans(open_service(args, must_exist=True).engine, args.limit)
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
    service = open_service(args, must_exist=True)
    rows = queries.events(service.engine, pending=args.pending)
    if args.json:
        keys = ("topic", "published", "set_aside", "last_error", "payload")
        print_json([{key: row[key] for key in keys} for row in rows])
        return EXIT_OK
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
    if args.pending:
        summary = queries.outbox_summary(service.engine)
        print(
            f"\n{summary.events_pending} events and {summary.stock_pending} stock states "
            "waiting to be published"
        )
        if summary.set_aside:
            print(
                f"{summary.set_aside} of them refused by the broker (an ACL? see last_error "
                "in --json), retried with back-off without holding up the others"
            )
    return EXIT_OK


def cmd_reorders(args: argparse.Namespace) -> int:
    rows = queries.reorders(open_service(args, must_exist=True).engine, include_closed=args.all)
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(
        render_table(
            ["reorder", "part", "ordered", "received", "outstanding", "status", "created_at"],
            [
                (
                    r["reorder_id"],
                    r["part"],
                    r["ordered"],
                    r["received"],
                    r["outstanding"],
                    r["status"] if r["close_reason"] is None else r["close_reason"],
                    r["created_at"],
                )
                for r in rows
            ],
        )
    )
    return EXIT_OK
