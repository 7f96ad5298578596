"""The topics of SPEC §6, built in one module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edge.publish.topics import default_prefix, event_topic, status_topic, stock_topic

PREFIX = "backflush/plant-1/pack-edge-01"


def test_the_default_prefix_names_the_site_and_the_node() -> None:
    assert default_prefix("plant-1", "pack-edge-01") == PREFIX


def test_status_and_event_topics_sit_under_the_prefix() -> None:
    assert status_topic(PREFIX) == "backflush/plant-1/pack-edge-01/status"
    assert event_topic(PREFIX, "low-stock") == "backflush/plant-1/pack-edge-01/event/low-stock"


@pytest.mark.parametrize(
    ("part", "level"),
    [
        ("BOLT-M6", "BOLT-M6"),
        ("R/ODD PART", "R%2FODD%20PART"),
        ("A+B#C", "A%2BB%23C"),
        ("Ø12", "%C3%9812"),
    ],
)
def test_a_part_number_is_exactly_one_topic_level(part: str, level: str) -> None:
    topic = stock_topic(PREFIX, part)
    assert topic == f"{PREFIX}/stock/{level}"
    assert topic.count("/") == PREFIX.count("/") + 2


def test_the_topics_module_loads_no_mqtt_client() -> None:
    # The unit of work imports it on every scan path; paho belongs to the daemon only.
    code = "import sys, edge.publish.topics; print('paho' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
