"""Fixtures for tests against a real Mosquitto: brokers, a test CA, a plant and relays.

* ``make_broker(**options)``: a started :class:`tests.broker.Mosquitto` (stopped
  after the test); ``test_ca``: one throw-away CA for the session.
* ``make_plant(broker, **mqtt)``: a config file pointing at the broker, a real
  SQLite database built through ``edge.runtime.bootstrap.build_service`` and a small
  catalog; :class:`Plant` commits receipts and counts through the real core.
* ``relays``: runs :class:`edge.publish.relay.OutboxRelay` in threads (stopped after
  the test); :class:`RelayProcess` runs one in a child process that a test can
  SIGKILL or SIGSTOP.

Tests needing these are skipped with a reason when ``mosquitto`` is missing
(``scripts/test`` installs it).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from edge.config import Config, load_config
from edge.demo import DEMO_DATA
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.publish.status import RelayState
from edge.runtime.bootstrap import build_relay, build_service
from edge.runtime.clock import SystemClock
from edge.service import InventoryService
from edge.store import schema
from tests.broker import Mosquitto, TestCA, mosquitto_binary, poll

HERE = Path(__file__).resolve().parent
RELAY_CHILD = HERE / "relay_child.py"
SITE = "plant-1"
NODE = "relay-test"
PREFIX = f"backflush/{SITE}/{NODE}"
PARTS = ("BOLT-M6", "NUT-M6", "WASHER-6")

needs_mosquitto = pytest.mark.skipif(
    mosquitto_binary() is None,
    reason="mosquitto is not installed (scripts/test installs the Debian package)",
)


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (scripts/test installs the Debian package)")
    brokers: list[Mosquitto] = []

    def make(name: str = "broker", **options: Any) -> Mosquitto:
        broker = Mosquitto(tmp_path / name, **options)
        brokers.append(broker)
        broker.start()
        return broker

    yield make
    for broker in brokers:
        broker.kill()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


# --------------------------------------------------------------------------- the plant


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


@dataclass
class Plant:
    """A database and config as ``edge run`` would have them, and the core to change stock."""

    directory: Path
    config_path: Path
    config: Config
    service: InventoryService

    @property
    def engine(self) -> Any:
        return self.service.engine

    def receive(self, part: str, quantity: str = "1") -> None:
        at = SystemClock().moment()
        self.service.transact(
            lambda inventory, _uow: inventory.receive(part, Decimal(quantity), at)
        )

    def receive_many(self, part: str, times: int) -> None:
        """``times`` receipts of one unit, committed together (one event each)."""
        at = SystemClock().moment()

        def receive(inventory: Any, _uow: Any) -> None:
            for _ in range(times):
                inventory.receive(part, Decimal(1), at)

        self.service.transact(receive)

    def count(self, part: str, quantity: str) -> None:
        at = SystemClock().moment()
        self.service.transact(lambda inventory, _uow: inventory.count(part, Decimal(quantity), at))

    def raise_boot(self) -> int:
        return self.service.transact(lambda _inventory, uow: uow.raise_boot())

    def outbox(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(schema.outbox).order_by(schema.outbox.c.seq)))

    def last_seq(self) -> int:
        rows = self.outbox()
        return rows[-1].seq if rows else 0

    def pending(self) -> list[Any]:
        return [row for row in self.outbox() if row.published_at is None]

    def stock_topic(self, part: str) -> str:
        with self.engine.connect() as connection:
            return str(
                connection.execute(
                    select(schema.stock_state.c.topic).where(schema.stock_state.c.part == part)
                ).scalar_one()
            )


def write_config(directory: Path, broker: Mosquitto, **mqtt: object) -> Path:
    settings: dict[str, object] = {
        "host": broker.host,
        "port": broker.port,
        "keepalive": 5,
        "reconnect_max_s": 2,
    } | mqtt
    lines = [
        "[site]",
        f'id = "{SITE}"',
        f'node = "{NODE}"',
        "",
        "[database]",
        'path = "edge.db"',
        "",
        "[mqtt]",
        *(f"{key} = {_toml_value(value)}" for key, value in settings.items()),
        "",
        "[[station]]",
        'id = "PACK-1"',
        'mode = "ship"',
    ]
    path = directory / "edge.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_plant(tmp_path: Path) -> Iterator[Callable[..., Plant]]:
    plants: list[Plant] = []

    def make(broker: Mosquitto, *, parts: tuple[str, ...] = PARTS, **mqtt: object) -> Plant:
        directory = tmp_path / f"plant-{len(plants) + 1}"
        directory.mkdir()
        config_path = write_config(directory, broker, **mqtt)
        config = load_config(config_path)
        service = build_service(config)
        items = directory / "items.csv"
        with items.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["part", "description", "uom", "reorder_point", "reorder_qty"])
            for part in parts:
                writer.writerow([part, f"test part {part}", "EA", "", ""])
        import_items(service, items)
        plant = Plant(directory, config_path, config, service)
        plants.append(plant)
        return plant

    yield make
    for plant in plants:
        plant.service.engine.dispose()


# --------------------------------------------------------------------------- relays


class RelayThread:
    """An OutboxRelay running in a thread of the test process."""

    def __init__(self, plant: Plant, *, boot: int | None = None, **extra: Any) -> None:
        config = plant.config
        self.plant = plant
        self.boot = boot if boot is not None else plant.raise_boot()
        self.relay = build_relay(config, plant.engine, self.boot, **extra)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.relay.run, args=(self.stopping,), name="relay")

    def start(self) -> RelayThread:
        self.thread.start()
        return self

    def state(self) -> RelayState:
        return self.relay.state()

    def wait_connected(self) -> None:
        poll(lambda: self.state().connected, "the relay to connect")

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the relay did not stop"


@pytest.fixture
def relays() -> Iterator[Callable[..., RelayThread]]:
    running: list[RelayThread] = []

    def start(plant: Plant, **options: Any) -> RelayThread:
        relay = RelayThread(plant, **options).start()
        running.append(relay)
        return relay

    yield start
    for relay in running:
        if relay.thread.is_alive():
            relay.stop()


class RelayProcess:
    """An OutboxRelay in a child process (``relay_child.py``), for kill -9 and SIGSTOP."""

    def __init__(self, plant: Plant) -> None:
        self.log = plant.directory / "relay-child.log"
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, str(RELAY_CHILD), str(plant.config_path)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(HERE.parents[1])},
            )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        return self.process.wait(30)


@pytest.fixture
def relay_processes() -> Iterator[Callable[[Plant], RelayProcess]]:
    children: list[RelayProcess] = []

    def start(plant: Plant) -> RelayProcess:
        child = RelayProcess(plant)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGCONT)
            child.process.kill()
            child.process.wait(30)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every daemon a test starts; any still running at the end is killed."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def start_edge_run(
    config_path: Path, log: Path, started: list[subprocess.Popen[bytes]], *, scanners: int
) -> subprocess.Popen[bytes]:
    """Start `edge run` and wait until its ``scanners`` are open (opening a port flushes it)."""
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config_path), "--verbose"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    started.append(process)

    def connected() -> bool:
        assert process.poll() is None, log.read_text()
        return log.read_bytes()[offset:].count(b"connected:") >= scanners

    poll(connected, f"{scanners} scanners to connect")
    return process


def load_demo_catalog(config_path: Path) -> None:
    """Import the demo's items and BOM into the database of the config at ``config_path``."""
    service = build_service(load_config(config_path))
    import_items(service, DEMO_DATA / "items.csv")
    import_bom(service, DEMO_DATA / "bom.csv")
    service.engine.dispose()
