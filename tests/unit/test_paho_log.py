"""paho's log lines under the relay's logger: one meaningless line dropped, the rest kept."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from edge.publish.clients import paho_log
from edge.publish.connection import install_paho_log_filter


def test_the_line_after_a_clean_disconnect_is_dropped_and_others_are_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_paho_log_filter()
    with caplog.at_level(logging.DEBUG, logger=paho_log.name):
        # As paho 2.2 logs it when its network thread runs once more after DISCONNECT.
        paho_log.error(
            "Client is not connected. Socket: None). "
            "Last known Connection State: MQTT_CS_DISCONNECTED"
        )
        paho_log.error("failed to receive on socket: %s", "Connection reset by peer")
        paho_log.debug("Sending PUBLISH (d%d, q%d, r%d, m%d), '%s', ...", 0, 1, 0, 7, "p/status")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "edge.publish.relay.paho",
            logging.ERROR,
            "failed to receive on socket: Connection reset by peer",
        ),
        (
            "edge.publish.relay.paho",
            logging.DEBUG,
            "Sending PUBLISH (d0, q1, r0, m7), 'p/status', ...",
        ),
    ]


def test_installing_twice_adds_one_filter() -> None:
    install_paho_log_filter()
    before = list(paho_log.filters)
    install_paho_log_filter()
    assert paho_log.filters == before
    assert len(before) == 1


def test_importing_the_relay_changes_no_logger_building_one_does() -> None:
    code = (
        "import logging\n"
        "from edge.config import MqttConfig\n"
        "from edge.publish.relay import OutboxRelay\n"
        "paho = logging.getLogger('edge.publish.relay.paho')\n"
        "print(len(paho.filters))\n"
        "OutboxRelay(None, MqttConfig(), topic_prefix='p', client_id='c',\n"
        "            site='s', node='n', boot=1, version='v')\n"
        "print(len(paho.filters))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["0", "1"]
