"""Hypothesis settings for the fuzz suite only.

The profiles are registered under their own names and applied per test (each test is
decorated with :func:`fuzz_settings`), never loaded globally, so the settings of the
other suites' property tests stay as they are. They are not called ``ci`` because
Hypothesis has a built-in ``ci`` profile of that name, loaded for every test when it
detects a CI machine.

``HYPOTHESIS_PROFILE=deep`` (or ``fuzz-deep``) selects the long profile; anything else,
or nothing, the short one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from edge.demo import DEMO_DATA
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.store.database import open_database
from tests.shop_floor import make_service

CI_PROFILE = "fuzz-ci"
DEEP_PROFILE = "fuzz-deep"

settings.register_profile(
    CI_PROFILE,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    DEEP_PROFILE,
    max_examples=5000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_SELECTED = os.environ.get("HYPOTHESIS_PROFILE", "")
PROFILE = DEEP_PROFILE if _SELECTED in ("deep", DEEP_PROFILE) else CI_PROFILE


def fuzz_settings(weight: float = 1.0) -> settings:
    """The selected profile, with ``weight`` times its example count (at least 10).

    Tests that open a database or run the ``edge`` command cost far more per example
    than the pure decoders, so they take a fraction of the count.
    """
    base = settings.get_profile(PROFILE)
    return settings(base, max_examples=max(10, round(base.max_examples * weight)))


@pytest.fixture(scope="module")
def catalog_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo items and BOMs, imported by the real importer; no stock yet."""
    path = tmp_path_factory.mktemp("fuzz-catalog") / "catalog.db"
    engine = open_database(path)
    try:
        service = make_service(engine)
        import_items(service, DEMO_DATA / "items.csv")
        import_bom(service, DEMO_DATA / "bom.csv")
    finally:
        engine.dispose()
    return path
