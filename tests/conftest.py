"""Fixtures for the inventory core: a real SQLite file, a service and a clock the test moves.

``floor`` is the usual entry point (see :mod:`tests.shop_floor`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from edge.service import InventoryService
from edge.store.database import open_database
from tests import contract
from tests.shop_floor import ShopFloor, SteppingClock, make_service


@pytest.fixture(autouse=True)
def payloads_follow_the_contract() -> Iterator[None]:
    """Every message a test subscriber received followed its published JSON Schema."""
    contract.take_violations()
    yield
    violations = contract.take_violations()
    assert not violations, "payloads off the contract:\n" + "\n".join(violations[:10])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "edge.db"


@pytest.fixture
def db_engine(db_path: Path) -> Iterator[Engine]:
    """A real SQLite file opened as production opens it (WAL, synchronous=FULL, migrated)."""
    engine = open_database(db_path)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def service(db_engine: Engine) -> InventoryService:
    return make_service(db_engine)


@pytest.fixture
def floor(service: InventoryService, clock: SteppingClock, tmp_path: Path) -> ShopFloor:
    return ShopFloor(service, clock, tmp_path)
