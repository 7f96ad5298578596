"""Every MQTT topic the node publishes or subscribes to, built here and nowhere else (SPEC §6).

``prefix`` is the validated ``topic_prefix`` of the config, by default
:func:`default_prefix`. Standard library only and cheap to import: the
unit of work builds the event and stock topics it writes into outbox rows, and
the relay builds the status topic, which is also its Last Will.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote


def default_prefix(site: str, node: str) -> str:
    """``backflush/{site}/{node}``: the prefix when the config sets none."""
    return f"backflush/{site}/{node}"


def status_topic(prefix: str) -> str:
    """``{prefix}/status``: retained ``online``/``offline``; the Last Will too."""
    return f"{prefix}/status"


def event_topic(prefix: str, event_type: str) -> str:
    """``{prefix}/event/{type}``: one event, never retained."""
    return f"{prefix}/event/{event_type}"


@lru_cache(maxsize=4096)  # every commit names the topic of each part it touched
def stock_topic(prefix: str, part: str) -> str:
    """``{prefix}/stock/{part}``: a part's retained stock state.

    The part number becomes one topic level: every character MQTT or a URL
    would read as structure (``/``, ``+``, ``#``, spaces) is percent-encoded.
    """
    return f"{prefix}/stock/{quote(part, safe='')}"


def command_topic(prefix: str, command_type: str) -> str:
    """``{prefix}/cmd/{type}``: a command for this node (SPEC §11)."""
    return f"{prefix}/cmd/{command_type}"


def site_command_topic(site: str, command_type: str) -> str:
    """``backflush/{site}/cmd/{type}``: a command for every node of the site."""
    return f"backflush/{site}/cmd/{command_type}"


def command_filters(prefix: str, site: str) -> tuple[str, ...]:
    """What the commands subscriber subscribes to: this node's and the site's commands."""
    return (command_topic(prefix, "+"), site_command_topic(site, "+"))
