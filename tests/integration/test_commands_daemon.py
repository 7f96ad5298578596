"""Commands taken by `edge run` itself: during a scan burst on real ptys, and across a restart.

The daemon runs as a subprocess with ``[commands] enabled``; a paho MQTT 5
client plays the ERP against a real Mosquitto with persistence.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from edge.publish.topics import command_topic, event_topic
from tests.broker import Erp, Mosquitto, Subscriber, poll
from tests.integration.commands_node import command
from tests.integration.conftest import load_demo_catalog
from tests.scanner_pty import CEILING_S, Pty

ACK = 0x06
SITE, NODE = "plant-9", "cmd-node"
PREFIX = f"backflush/{SITE}/{NODE}"
STATIONS = ("PACK-1", "PACK-2")


@dataclass
class Node:
    config: Path
    log: Path
    database: Path
    ptys: dict[str, Pty]
    broker: Mosquitto
    erp: Erp
    events: Subscriber
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", "run", "--config", str(self.config)],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, self.log.read_text()
            text = self.log.read_bytes()[offset:]
            return text.count(b"connected:") >= len(self.ptys) and b"commands: subscribed" in text

        poll(ready, "the daemon's scanners and commands subscriber", CEILING_S)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(CEILING_S)

    def journal(self) -> list[tuple[str, str, str]]:
        with sqlite3.connect(self.database) as db:
            return db.execute("SELECT station, code, status FROM scans ORDER BY id").fetchall()

    def receipts(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(
                "SELECT part, quantity FROM ledger WHERE kind = 'receipt' ORDER BY id"
            ).fetchall()

    def results(self) -> list[dict[str, Any]]:
        topic = event_topic(PREFIX, "command-result")
        return [message.json() for message in self.events.on(topic)]


@pytest.fixture
def node(tmp_path: Path, make_broker: Callable[..., Mosquitto]) -> Iterator[Node]:
    broker = make_broker(persistence=True)
    ptys = {station: Pty.open() for station in STATIONS}
    scanners = "\n".join(
        f'[[scanner]]\nid = "{station.lower()}"\nstation = "{station}"\nkind = "serial"\n'
        f'url = "{pty.path}"\nterminator = "cr"\nfeedback_good = "\\u0006"\n'
        'feedback_bad = "\\u0015"\n'
        for station, pty in ptys.items()
    )
    stations = "".join(f'[[station]]\nid = "{station}"\nmode = "ship"\n\n' for station in STATIONS)
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[site]\nid = "{SITE}"\nnode = "{NODE}"\n\n[database]\npath = "edge.db"\n\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nkeepalive = 5\n'
        "reconnect_max_s = 2\n\n[commands]\nenabled = true\n\n" + stations + scanners
    )
    load_demo_catalog(config)
    events = Subscriber(broker, f"{PREFIX}/#", client_id="daemon-events", persistent=True)
    events.start()
    erp = Erp(broker).start()
    running = Node(config, tmp_path / "edge.log", tmp_path / "edge.db", ptys, broker, erp, events)
    yield running
    if running.process is not None and running.process.poll() is None:
        running.process.kill()
        running.process.wait()
    erp.close()
    events.close()
    for pty in ptys.values():
        pty.close()


def test_commands_during_a_scan_burst_leave_every_scan_accepted(node: Node) -> None:
    node.start()
    per_station = 40
    codes = ["FG-PUMP-100", "FG-PUMP-200"] * (per_station // 2)  # alternating: no debounce

    def operator(station: str) -> None:
        pty = node.ptys[station]
        for index, code in enumerate(codes, start=1):
            pty.type(code)
            pty.listen(index)

    workers = [threading.Thread(target=operator, args=(station,)) for station in STATIONS]
    for worker in workers:
        worker.start()
    sent = [
        node.erp.send(command_topic(PREFIX, "stock.receive"),
                      command("stock.receive", part="RM-IMPELLER", quantity="2.5"))
        for _ in range(15)
    ]  # fmt: skip
    for worker in workers:
        worker.join(CEILING_S * 3)

    answers = [node.erp.answer(correlation) for correlation in sent]
    assert [answer["status"] for answer in answers] == ["applied"] * 15
    for station, pty in node.ptys.items():
        assert bytes(pty.heard) == bytes([ACK]) * per_station, station
    journal = node.journal()
    assert len(journal) == per_station * len(STATIONS)
    assert {status for _, _, status in journal} == {"accepted"}
    assert node.receipts() == [("RM-IMPELLER", "2.5")] * 15
    ids = {answer["event_id"] for answer in answers}
    poll(lambda: ids <= {result["event_id"] for result in node.results()} or None,
         "every command-result event")  # fmt: skip
    assert node.stop() == 0


def test_commands_sent_while_the_daemon_is_stopped_are_applied_when_it_returns(
    node: Node,
) -> None:
    node.start()
    first = node.erp.answer(
        node.erp.send(command_topic(PREFIX, "stock.count"),
                      command("stock.count", part="RM-GASKET", counted=100))
    )  # fmt: skip
    started = time.monotonic()
    assert node.stop() == 0
    stop_s = time.monotonic() - started
    sent = [
        node.erp.send(command_topic(PREFIX, "stock.receive"),
                      command("stock.receive", part="RM-GASKET", quantity=n))
        for n in (1, 2, 3)
    ]  # fmt: skip

    node.start()

    answers = [node.erp.answer(correlation) for correlation in sent]
    assert first["status"] == "applied"
    assert [answer["status"] for answer in answers] == ["applied"] * 3
    with sqlite3.connect(node.database) as db:
        [(on_hand,)] = db.execute("SELECT on_hand FROM balances WHERE part = 'RM-GASKET'")
    assert Decimal(on_hand) == Decimal(106)
    ids = {answer["event_id"] for answer in answers}
    poll(lambda: ids <= {result["event_id"] for result in node.results()} or None,
         "the command-result events")  # fmt: skip
    # The stop stayed a clean stop (SPEC §9: under 5 s) with the subscriber running;
    # reported, not asserted (tests never assert timings).
    print(f"clean stop with the commands subscriber: {stop_s:.2f} s")
    assert node.stop() == 0
