"""A paho client as the config describes it: protocol, credentials, TLS and logging.

The relay's per-connection client and the commands subscriber's persistent
one are both built here, so a broker setting is read in one place.
"""

from __future__ import annotations

import logging
import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.config import MqttConfig
from edge.runtime.logs import PAHO_LOGGER

CONNECT_TIMEOUT_S = 5.0  # TCP connect and TLS handshake

# paho's own lines, under the relay's logger name; its packet traces (DEBUG) show only
# with `edge run --log-mqtt` (edge.runtime.logs sets this logger's level).
paho_log = logging.getLogger(PAHO_LOGGER)


def paho_client(
    settings: MqttConfig, client_id: str, *, clean: bool = True, reconnect: bool = False
) -> mqtt.Client:
    """A client for ``settings``; it reconnects by itself only with ``reconnect``.

    ``clean`` False asks for a session the broker keeps across connections
    (MQTT 3.1.1 clean session off; with MQTT 5 the caller passes
    ``clean_start=False`` and a Session Expiry Interval to ``connect``).
    Raises ConfigError (password source) or OSError/ValueError (TLS files).
    """
    v5 = settings.protocol == "5"
    protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        clean_session=None if v5 else clean,
        reconnect_on_failure=reconnect,
    )
    client.enable_logger(paho_log)
    client.connect_timeout = CONNECT_TIMEOUT_S
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.read_password())
    if settings.tls:
        client.tls_set(
            ca_certs=str(settings.tls_ca) if settings.tls_ca else None,
            certfile=str(settings.tls_cert) if settings.tls_cert else None,
            keyfile=str(settings.tls_key) if settings.tls_key else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(settings.tls_insecure)
    return client
