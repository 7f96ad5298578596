"""The one place that builds the product's parts from a validated config."""

from __future__ import annotations

from edge.config import Config, StationConfig
from edge.domain.inventory import Identity
from edge.domain.model import Station, StationMode
from edge.service import InventoryService
from edge.store.database import open_database


def station_from_config(config: StationConfig) -> Station:
    return Station(
        id=config.id,
        mode=StationMode(config.mode),
        max_qty=config.max_qty,
        default_reason=config.default_reason,
        void_window_s=float(config.void_window_s),
        scrap_reasons=config.scrap_reasons,
    )


def build_service(config: Config) -> InventoryService:
    """Open the database (upgrading its schema) and build the inventory service."""
    engine = open_database(config.database.path)
    return InventoryService(
        engine,
        Identity(site=config.site.id, node=config.site.node),
        config.topic_prefix,
        [station_from_config(station) for station in config.stations],
    )
