"""The one place that builds the product's parts from a validated config."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from edge import __version__
from edge.config import Config, InventoryConfig, StationConfig
from edge.domain.inventory import Identity
from edge.domain.model import InventoryPolicy, Station
from edge.service import InventoryService
from edge.store.database import open_database

if TYPE_CHECKING:
    from collections.abc import Callable

    from edge.commands.subscriber import CommandSubscriber
    from edge.publish.relay import OutboxRelay


def station_from_config(config: StationConfig) -> Station:
    """The domain's station from its [[station]] table, which has the same fields."""
    fields = dataclasses.fields(Station)
    return Station(**{field.name: getattr(config, field.name) for field in fields})


def policy_from_config(config: InventoryConfig) -> InventoryPolicy:
    """The domain's inventory policy from the [inventory] table, which has the same fields."""
    fields = dataclasses.fields(InventoryPolicy)
    return InventoryPolicy(**{field.name: getattr(config, field.name) for field in fields})


def build_service(config: Config, *, upgrade: bool = False) -> InventoryService:
    """Open the database and build the inventory service.

    Only ``upgrade=True`` (``edge run``, ``edge migrate``) upgrades an older
    schema, after a pre-upgrade backup; otherwise an older database is refused
    with the command that upgrades it (:func:`edge.store.database.open_database`).
    """
    engine = open_database(config.database.path, upgrade=upgrade)
    return InventoryService(
        engine,
        Identity(site=config.site.id, node=config.site.node),
        config.topic_prefix,
        [station_from_config(station) for station in config.stations],
        policy=policy_from_config(config.inventory),
    )


def build_relay(
    config: Config,
    engine: Engine,
    boot: int,
    relay_class: type[OutboxRelay] | None = None,
    **options: Any,
) -> OutboxRelay:
    """The outbox relay for this node (an instance of ``relay_class``, by default
    :class:`OutboxRelay`); ``options`` go to its constructor as they are."""
    from edge.publish.relay import OutboxRelay  # noqa: PLC0415 - paho is loaded only by the relay

    return (relay_class or OutboxRelay)(
        engine,
        config.mqtt,
        topic_prefix=config.topic_prefix,
        client_id=config.client_id,
        site=config.site.id,
        node=config.site.node,
        boot=boot,
        version=__version__,
        **options,
    )


def build_command_subscriber(
    config: Config,
    service: InventoryService,
    *,
    on_committed: Callable[[], None],
    republish: Callable[[], None],
) -> CommandSubscriber:
    """The subscriber of ``[commands]``: its own service on ``service``'s engine.

    Its own service, so its transactions never use the scan writer's held
    connection or kept state; they take turns at the write lock with the
    writer's (edge.store.turns), one short transaction each.
    """
    # paho is loaded only when commands are enabled.
    from edge.commands.apply import CommandHandler  # noqa: PLC0415
    from edge.commands.subscriber import CommandSubscriber  # noqa: PLC0415
    from edge.publish.topics import command_filters  # noqa: PLC0415

    own = InventoryService(service.engine, service.identity, service.topic_prefix,
                           list(service.stations.values()), policy=service.policy)  # fmt: skip
    handler = CommandHandler(own, config.commands, on_committed=on_committed, republish=republish)
    return CommandSubscriber(
        handler,
        config.mqtt,
        client_id=f"{config.client_id}-commands",
        topic_filters=command_filters(config.topic_prefix, config.site.id),
    )
