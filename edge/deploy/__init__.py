"""What a box needs beside the code, shipped inside the package.

The documented example config, the systemd unit and the udev rules for the
scanners live here as package data, so a wheel installed anywhere carries
them and ``edge init`` can point at them. Paths are found from this module's
own location (a wheel is installed as plain files, never run from a zip), so
they hold for an editable checkout and an installed wheel alike.
"""

from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parent
# Every key the product reads, commented; `edge init` starts a config from it.
EXAMPLE_CONFIG = DEPLOY_DIR / "edge.toml"
SERVICE_UNIT = DEPLOY_DIR / "backflush-edge.service"
UDEV_RULES = DEPLOY_DIR / "99-backflush-edge-scanners.rules"
