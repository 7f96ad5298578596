"""The commands that only read: stock, scans, events, reorders, cards and variance."""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from edge.cli.arguments import EXIT_OK, UsageError, open_reader, part_arg, time_arg
from edge.cli.render import print_json
from edge.cli.terminal import cell, duration, render_table
from edge.store import queries

if TYPE_CHECKING:
    from edge.store import card_queries, variance_query


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


TABLE_WIDTH = 120  # the tables stay readable in a terminal this wide
_STOCK_HEADERS = (
    *("part", "on_hand", "on_order", "position", "uom", "state"),
    *("counted", "used", "daily", "cover", "cards"),
)


def cmd_stock(args: argparse.Namespace) -> int:
    with reading(args) as connection:
        rows = queries.stock(connection)
    if args.json:
        print_json([row.as_json() for row in rows])
        return EXIT_OK
    print(stock_table(rows))
    return EXIT_OK


def stock_table(rows: Sequence[queries.PartStock]) -> str:
    """The table ``edge stock`` prints (and ``edge demo``)."""
    return fitted_table(_STOCK_HEADERS, [_stock_cells(row) for row in rows], "description",
                        [row.description for row in rows])  # fmt: skip


def _stock_cells(row: queries.PartStock) -> tuple[object, ...]:
    message = row.message
    counted_at, average = message["last_counted_at"], message["average_daily_use"]
    cards = message["cards"]
    return (
        *(row.part, row.on_hand, row.on_order, message["position"], row.uom, row.state),
        None if counted_at is None else counted_at[:10],  # the UTC day; --json has the time
        message["consumed_since_count"],
        _per_day(average),
        message["days_of_cover"],
        None if cards is None else f"{len(cards['full'])}/{len(cards['empty'])}",  # full/empty
    )


def _per_day(average: Decimal) -> Decimal:
    """Average daily use to 2 places for people (exact in --json); a tiny one as it is."""
    shown = average.quantize(Decimal("0.01"))
    return shown if shown or not average else average


def fitted_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], last: str, texts: Sequence[str]
) -> str:
    """A table whose last column of free text (``last``) is cut to fit :data:`TABLE_WIDTH`.

    Left out when fewer than its header's width of characters remain.
    """
    width = max(len(line) for line in render_table(headers, rows).splitlines())
    room = TABLE_WIDTH - width - 2
    if room < len(last):
        return render_table(headers, rows)
    cut = [text if len(text) <= room else text[: room - 3] + "..." for text in texts]
    return render_table(
        [*headers, last], [(*row, text) for row, text in zip(rows, cut, strict=True)]
    )


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
    from edge.domain.payloads import summarize  # noqa: PLC0415 - the event types, for tables only

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
    print(cards_table(rows))
    return EXIT_OK


def cards_table(rows: Sequence[card_queries.CardLine]) -> str:
    """The table ``edge cards`` prints (and ``edge demo``)."""
    return render_table(
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


# "% of use": the latest count's variance as % of the consumption since the count before it.
_VARIANCE_HEADERS = (
    *("part", "counts", "last_counted", "variance", "% of use", "tolerance %", "uom", "verdict"),
)


def cmd_variance(args: argparse.Namespace) -> int:
    from edge.store import variance_query  # noqa: PLC0415 - this command's own read

    part = None if args.part is None else part_arg(args.part)
    since = None if args.since is None else time_arg(args.since)
    with reading(args) as connection:
        try:
            reports = variance_query.variance(connection, since=since, part=part)
        except variance_query.UnknownPart as error:
            raise UsageError(f"{error} (see `edge stock`)") from None
    if args.json:
        print_json([report.as_json() for report in reports])
        return EXIT_OK
    if not reports:
        print("no counts" + ("" if args.since is None else " since then"))
        return EXIT_OK
    print(variance_text(reports))
    return EXIT_OK


def variance_text(reports: Sequence[variance_query.PartReport]) -> str:
    """What ``edge variance`` prints of some reports (and ``edge demo``): the table, then the
    BOM suspects with the quantity per parent their counts imply."""
    lines = [render_table(_VARIANCE_HEADERS, [_variance_cells(report) for report in reports])]
    suspects = [report for report in reports if report.variance.implied]
    if suspects:
        lines.append("\nBOM suspects: the quantity per parent the counts imply, beside the BOM's")
    lines.extend(
        f"  {report.part} in {use.parent}: BOM {cell(use.qty_per)}, counts imply "
        f"{cell(use.implied)} {report.uom} per {use.parent} "
        f"(the last {report.variance.judged} counts)"
        for report in suspects
        for use in report.variance.implied
    )
    return "\n".join(lines)


def _variance_cells(report: variance_query.PartReport) -> tuple[object, ...]:
    latest = report.variance.latest
    assert latest is not None  # a part is reported for its counts
    record = latest.record
    return (report.part, len(report.variance.counts), record.counted_at[:10], record.variance,
            latest.pct, record.tolerance_pct, report.uom,
            report.variance.verdict.value)  # fmt: skip
