"""What a command got: its outcome, the answer kept by ``command_id``, and a repeat's answer.

The answer kept in the ``commands`` table (:mod:`edge.store.command_log`) is
the outcome without the envelope of its event: a repeat of the id is answered
``duplicate`` with the first answer's errors and catalog version, and the
first answer's status as ``first_status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from edge.commands.parse import CommandError, Refused
from edge.domain import exactjson
from edge.domain.ports import Moment
from edge.domain.timestamps import rfc3339
from edge.store.command_log import LoggedCommand, log_command


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a command is answered, and what else follows from it."""

    command_id: str | None
    command_type: str | None
    status: str  # applied | duplicate | rejected
    errors: tuple[CommandError, ...]
    catalog_version: int
    first_status: str | None = None  # a duplicate's: what the first delivery got
    reference: str | None = None  # kept with the command (a receipt's, a reorder's)
    republish: bool = False  # the relay should publish status and stock again
    logged: bool = True  # kept by command_id (not a duplicate, not a retained one)

    def answer(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "command_type": self.command_type,
            "status": self.status,
            "errors": [error.as_json() for error in self.errors],
            "catalog_version": self.catalog_version,
        }


def rejected(refused: Refused, catalog_version: int, *, logged: bool) -> Outcome:
    """A command that cannot be applied; kept by id when it has one and ``logged``."""
    return Outcome(
        refused.command_id,
        refused.type,
        "rejected",
        refused.errors,
        catalog_version,
        logged=logged and refused.command_id is not None,
    )


def duplicate_of(first: LoggedCommand) -> Outcome:
    """The answer to a repeat of a command already answered: the first answer, as duplicate."""
    answer = exactjson.loads(first.answer)
    errors = tuple(CommandError(str(e["path"]), str(e["message"])) for e in answer["errors"])
    return Outcome(
        first.command_id,
        first.command_type,
        "duplicate",
        errors,
        int(answer["catalog_version"]),
        first_status=first.status,
        logged=False,
    )


def log_outcome(connection: Connection, outcome: Outcome, *, topic: str, at: Moment) -> None:
    """Keep the command by its id with its answer, in the transaction of its effect."""
    if outcome.command_id is None:
        raise ValueError("only a command with an id is kept")
    logged = LoggedCommand(
        outcome.command_id,
        outcome.command_type,
        outcome.status,
        exactjson.dumps(outcome.answer()),
    )
    log_command(connection, logged, topic=topic, reference=outcome.reference,
                received_at=rfc3339(at.wall))  # fmt: skip
