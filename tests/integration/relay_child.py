"""Runs an OutboxRelay on the config file given as the only argument until SIGTERM.

The relay tests start this as a child process so they can kill -9 or SIGSTOP
a relay that is in the middle of publishing.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from edge.config import load_config
from edge.runtime.bootstrap import build_relay, build_service


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = load_config(Path(sys.argv[1]))
    service = build_service(config)
    boot = service.transact(lambda _inventory, uow: uow.raise_boot())
    relay = build_relay(config, service.engine, boot)
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    relay.run(stop)


if __name__ == "__main__":
    main()
