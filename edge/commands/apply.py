"""A received command run through the domain, answered with a ``command-result`` event.

:class:`CommandHandler` is the whole inbound path but the network: it parses
the payload (:mod:`edge.commands.parse`), refuses a retained or repeated one,
applies a valid one through the same domain operations as the command line
(``edge receive``, ``edge count``, ``edge reorder cancel``; items, BOMs and
cards through the apply path of ``edge import``) and writes, in the transaction of
the effect, the command's row (by ``command_id``) and its ``command-result``
event. A command the rules refuse changes nothing: its domain operation runs
inside a savepoint, rolled back before the refusal is recorded.

:meth:`CommandHandler.handle` never raises for anything about the command;
only :class:`~edge.store.revisions.StorageError` (the database cannot be
written) leaves it, and then nothing was committed and the command should be
handled again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from edge.commands.catalog_changes import CATALOG_CHANGES, apply_catalog_change
from edge.commands.parse import Command, CommandError, Refused, parse_command
from edge.commands.results import (
    Outcome,
    duplicate_of,
    log_outcome,
    rejected,
)
from edge.config import CommandsConfig
from edge.domain.events import CommandResultEvent
from edge.domain.inventory import Inventory, Rejection
from edge.domain.ports import Moment
from edge.runtime.clock import SystemClock
from edge.service import InventoryService
from edge.store import schema
from edge.store.catalog_writes import catalog_version
from edge.store.command_log import find_command, mark_all_stock_unpublished
from edge.store.revisions import StorageError
from edge.store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

RETAINED = (
    "a retained command is never applied (it would be applied again by every node that "
    "subscribes later); publish commands with retain false"
)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A command as it arrived: its topic's type level, payload and retain flag."""

    topic: str
    command_type: str  # the topic's last level
    payload: bytes
    retained: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """What the handler committed: the ``command-result`` event's payload text and status."""

    status: str
    payload: str  # the event as written to the outbox (the response topic gets the same)
    command_id: str | None


class CommandHandler:
    """Parses, applies and answers commands, one at a time (see the module docstring).

    ``on_committed`` is called after each commit (the relay's ``wake``);
    ``republish`` asks the relay to publish its status again (``republish``).
    """

    def __init__(
        self,
        service: InventoryService,
        settings: CommandsConfig,
        *,
        on_committed: Callable[[], None] = lambda: None,
        republish: Callable[[], None] = lambda: None,
        clock: SystemClock | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self._on_committed = on_committed
        self._republish = republish
        self._clock = clock or SystemClock()

    def handle(self, incoming: Incoming) -> Answer:
        """Answer one command (and apply it when it is valid); see the module docstring."""
        try:
            return self._handle(incoming)
        except StorageError:
            raise
        except Exception:  # a bug must not take the subscriber, or the command, down unanswered
            log.exception("command on %s failed; answered rejected", incoming.topic)
            return self._internal_error(incoming)

    def _internal_error(self, incoming: Incoming) -> Answer:
        """A rejected answer for a command that failed unexpectedly (not kept by its id)."""
        parsed = self._parse(incoming)
        at = self._clock.moment()
        error = CommandError("$", "internal error while applying the command (see the node's log)")

        def operation(inventory: Inventory, uow: SqlUnitOfWork) -> str:
            version = catalog_version(uow.connection)
            errors = (error.as_json(),)
            event = CommandResultEvent(parsed.command_id, parsed.type, "rejected", errors, version)
            return inventory.record(event, at)

        event_id = self.service.transact(operation)
        self._on_committed()
        return Answer("rejected", self._payload(event_id), parsed.command_id)

    def _parse(self, incoming: Incoming) -> Command | Refused:
        return parse_command(
            incoming.payload,
            incoming.command_type,
            max_bytes=self.settings.max_bytes,
            allowed=self.settings.allow,
        )

    def _handle(self, incoming: Incoming) -> Answer:
        parsed = self._parse(incoming)
        if incoming.retained:
            # Not logged by id: the sender may publish the same command again, live.
            refusal = CommandError("$", RETAINED)
            parsed = Refused(parsed.command_id, _type_of(parsed), (refusal,))
        at = self._clock.moment()
        catalog_errors: list[CommandError] | None = None
        if (
            isinstance(parsed, Command)
            and parsed.type in CATALOG_CHANGES
            and not self._answered(parsed.command_id)
        ):
            command = parsed
            applied: list[tuple[Outcome, str]] = []

            def answer_applied(inventory: Inventory, uow: SqlUnitOfWork, version: int) -> None:
                # In the change's own transaction: the answer commits with the change.
                outcome = Outcome(command.command_id, command.type, "applied", (), version)
                applied.append((outcome, self._write(outcome, incoming, inventory, uow, at)))

            catalog_errors = apply_catalog_change(self.service, command, answer_applied)
            if not catalog_errors:
                return self._answer(incoming, *applied[-1])

        def operation(inventory: Inventory, uow: SqlUnitOfWork) -> tuple[Outcome, str]:
            outcome = self._outcome(
                parsed, incoming, inventory, uow, at=at, catalog_errors=catalog_errors
            )
            return outcome, self._write(outcome, incoming, inventory, uow, at)

        return self._answer(incoming, *self.service.transact(operation))

    def _write(
        self,
        outcome: Outcome,
        incoming: Incoming,
        inventory: Inventory,
        uow: SqlUnitOfWork,
        at: Moment,
    ) -> str:
        """The command's row (by id) and its command-result event, in the open transaction."""
        event = CommandResultEvent(
            outcome.command_id,
            outcome.command_type,
            outcome.status,
            tuple(error.as_json() for error in outcome.errors),
            catalog_version=outcome.catalog_version,
            first_status=outcome.first_status,
        )
        if outcome.logged:
            log_outcome(uow.connection, outcome, topic=incoming.topic, at=at)
        return inventory.record(event, at)

    def _answer(self, incoming: Incoming, outcome: Outcome, event_id: str) -> Answer:
        """After the commit: wake the relay, log the outcome, read the answer back."""
        self._on_committed()
        if outcome.republish:
            self._republish()
        log.info(
            "command %s %s from %s: %s%s",
            outcome.command_type or "?",
            outcome.command_id or "(no id)",
            incoming.topic,
            outcome.status,
            f" ({outcome.errors[0].path}: {outcome.errors[0].message})" if outcome.errors else "",
        )
        return Answer(outcome.status, self._payload(event_id), outcome.command_id)

    # --- deciding ----------------------------------------------------------------------
    def _outcome(
        self,
        parsed: Command | Refused,
        incoming: Incoming,
        inventory: Inventory,
        uow: SqlUnitOfWork,
        *,
        at: Moment,
        catalog_errors: list[CommandError] | None,
    ) -> Outcome:
        version = catalog_version(uow.connection)
        if parsed.command_id is not None:
            first = find_command(uow.connection, parsed.command_id)
            if first is not None:
                return duplicate_of(first)
        if isinstance(parsed, Refused):
            return rejected(parsed, version, logged=not incoming.retained)
        if (
            catalog_errors
        ):  # refused by the master-data apply path (an applied one is answered there)
            return Outcome(
                parsed.command_id, parsed.type, "rejected", tuple(catalog_errors), version
            )
        wanted = parsed.if_catalog_version
        if wanted is not None and wanted != version:
            return _refused(parsed, version, _stale_catalog(wanted, version))
        try:
            with uow.savepoint():
                reference = self._apply(parsed, inventory, uow, at)
        except Rejection as rejection:
            path = _path_of(rejection, parsed.type)
            return _refused(parsed, version, CommandError(path, rejection.message))
        return Outcome(
            parsed.command_id,
            parsed.type,
            "applied",
            (),
            version,  # stock commands leave the catalog as it was
            reference=reference,
            republish=parsed.type == "republish",
        )

    def _apply(
        self, command: Command, inventory: Inventory, uow: SqlUnitOfWork, at: Moment
    ) -> str | None:
        """Run a stock command through the domain; the reference to keep with it, if any."""
        fields = command.fields
        kind = command.type
        if kind == "stock.receive":
            card = fields.get("card")
            if card is None:
                inventory.receive(fields["part"], fields["quantity"], at,
                                  reorder_id=fields.get("reorder_id"))  # fmt: skip
            elif "reorder_id" in fields:
                raise Rejection("card-and-reorder", "a card's refill counts against no reorder")
            else:
                inventory.receive_card(card, at, expected=(fields["part"], fields["quantity"]))
            return fields.get("reference")
        if kind == "stock.count":
            inventory.count(fields["part"], fields["counted"], at,
                            counted_at=fields.get("counted_at"))  # fmt: skip
        elif kind == "reorder.ack":
            inventory.acknowledge_reorder(fields["reorder_id"], fields["reference"], at)
            return str(fields["reference"])
        elif kind == "reorder.cancel":
            inventory.cancel_reorder(fields["reorder_id"], at)
        elif kind == "republish":
            mark_all_stock_unpublished(uow.connection)
        else:  # a type parse accepts has a branch here
            raise RuntimeError(f"no apply step for {kind}")
        return None

    def _answered(self, command_id: str) -> bool:
        with self.service.engine.connect() as connection:
            return find_command(connection, command_id) is not None

    def _payload(self, event_id: str) -> str:
        outbox = schema.outbox
        with self.service.engine.connect() as connection:
            return str(
                connection.execute(
                    select(outbox.c.payload).where(outbox.c.event_id == event_id)
                ).scalar_one()
            )


def _type_of(parsed: Command | Refused) -> str | None:
    return parsed.type


def _refused(command: Command, version: int, error: CommandError) -> Outcome:
    return Outcome(command.command_id, command.type, "rejected", (error,), version)


def _stale_catalog(wanted: int, version: int) -> CommandError:
    return CommandError(
        "$.if_catalog_version",
        f"the catalog is at version {version}, not {wanted}: the change was made against "
        "another catalog; read it again and resend",
    )


_REJECTION_PATHS: dict[str, str] = {
    "unknown-part": "$.part",
    "phantom-part": "$.part",
    "bad-quantity": "$.quantity",
    "unknown-reorder": "$.reorder_id",
    "reorder-closed": "$.reorder_id",
    "bad-reference": "$.reference",
    "unknown-card": "$.card",
    "not-the-cards": "$.card",
    "card-already-full": "$.card",
    "card-and-reorder": "$.reorder_id",
}


def _path_of(rejection: Rejection, command_type: str) -> str:
    """The field a rule's refusal is about, as a JSON path of the command."""
    if rejection.reason == "bad-quantity" and command_type == "stock.count":
        return "$.counted"
    return _REJECTION_PATHS.get(rejection.reason, "$")
