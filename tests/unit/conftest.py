"""Fixtures of the unit tests: the domain on the in-memory store, holding the pump catalog."""

from __future__ import annotations

import pytest

from edge.domain.inventory import Inventory
from tests.shop_floor import SteppingClock
from tests.unit.fake_store import TEST_IDENTITY, InMemoryStore
from tests.unit.pump_catalog import pump_store


@pytest.fixture
def store(clock: SteppingClock) -> InMemoryStore:
    """The pump catalog with its opening stock, in memory."""
    return pump_store(clock.moment())


@pytest.fixture
def inventory(store: InMemoryStore) -> Inventory:
    return Inventory(store, TEST_IDENTITY)
