"""The ``commands`` table: each command from a central system with the answer it got (0007).

Written inside the unit of work that applies the command, so the command's
effect, its ``command-result`` event and this row commit together; a repeat
of the ``command_id`` finds the row and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from edge.store import schema


@dataclass(frozen=True, slots=True)
class LoggedCommand:
    command_id: str
    command_type: str | None
    status: str
    answer: str  # the answer's JSON as first written


def find_command(connection: Connection, command_id: str) -> LoggedCommand | None:
    columns = schema.commands.c
    row = connection.execute(
        select(columns.command_id, columns.command_type, columns.status, columns.answer).where(
            columns.command_id == command_id
        )
    ).one_or_none()
    return None if row is None else LoggedCommand(*row)


def log_command(
    connection: Connection,
    command: LoggedCommand,
    *,
    topic: str,
    reference: str | None,
    received_at: str,
) -> None:
    connection.execute(
        schema.commands.insert().values(
            command_id=command.command_id,
            command_type=command.command_type,
            status=command.status,
            answer=command.answer,
            topic=topic,
            reference=reference,
            received_at=received_at,
        )
    )


def mark_all_stock_unpublished(connection: Connection) -> int:
    """Make every part's retained stock state due again (``republish``); how many there are.

    The relay publishes a stock state whose version its broker has not
    acknowledged; raising every version in the command's own transaction
    makes the request durable: a crash before the relay acts still sends them.
    """
    table = schema.stock_state
    result = connection.execute(table.update().values(version=table.c.version + 1))
    return int(result.rowcount or 0)
