"""Broker outages and flapping, with scanners unplugged and plugged back while it is down.

``edge run`` reads a USB-CDC scanner (a pty behind a by-id link) at the ship
station and a fixed-mount network scanner (``socket://``) at the scrap
station. The broker is stopped; while it is down both scanners are unplugged
and plugged back, and operators keep scanning; then it flaps. Every scan gets
its good-read beep once committed, whatever the broker does; once the broker
stays up every event reaches a persistent subscriber (de-duplicated by
``event_id``, ``seq`` 1..n without gaps), and the events committed while the
node was cut off are flagged ``replayed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.broker import Mosquitto, poll, subscribed
from tests.faults.conftest import (
    ACK,
    PREFIX,
    SCRAP_GTIN,
    SHIP_GTIN,
    EdgeRun,
    Line,
    NetworkScanner,
    PtyScanner,
    Scanner,
    assert_balances_equal_ledger,
    assert_every_event_delivered,
    assert_scans_and_ledger_agree,
)

LOST = "lost the connection to the broker"
CONNECTED = "edge.publish.relay: connected to "


class Station:
    """An operator scanning unique serialized labels, each time waiting for the beep."""

    def __init__(self, scanner: Scanner, gtin: str) -> None:
        self.scanner = scanner
        self.gtin = gtin
        self.sent: list[str] = []

    def scan(self, times: int = 1) -> None:
        for _ in range(times):
            code = f"(01){self.gtin}(21){self.scanner.id.upper()}{len(self.sent) + 1:04d}"
            self.sent.append(code)
            self.scanner.type(code)
            assert self.scanner.wait_heard(len(self.sent))[-1] == ACK, code


def _replug(run: EdgeRun, scanner: Scanner) -> None:
    """Unplug the scanner, wait until the daemon noticed, plug it back, wait until it is read."""
    connections = run.connections(scanner)
    disconnections = run.count(rf"scanner {scanner.id} disconnected")
    scanner.unplug()
    run.wait_log(rf"scanner {scanner.id} disconnected", disconnections + 1)
    scanner.plug()
    if isinstance(scanner, NetworkScanner):
        scanner.accept()
    run.wait_log(rf"scanner {scanner.id} connected:", connections + 1)


def test_broker_outage_and_flapping_with_scanner_unplugs_lose_no_scan_and_no_event(
    make_broker: Callable[..., Mosquitto],
    make_line: Callable[..., Line],
    daemons: Callable[[Line], EdgeRun],
    by_id: Path,
) -> None:
    broker = make_broker(persistence=True)
    pack = PtyScanner("pack", "PACK-1", by_id / "usb-Acme_Scanner_PACK-if00")
    scrap = NetworkScanner("scrap", "SCRAP-1")
    pack.plug()
    scrap.plug()
    line = make_line(broker, [pack, scrap])
    stations = [Station(pack, SHIP_GTIN), Station(scrap, SCRAP_GTIN)]

    def scan_everywhere(times: int = 1) -> None:
        for station in stations:
            station.scan(times)

    cut_off: set[int] = set()  # seqs committed while the relay had no connection

    def outage(during: Callable[[], None]) -> None:
        lost = run.count(LOST)
        broker.stop()
        run.wait_log(LOST, lost + 1)
        before = line.last_seq()
        during()
        cut_off.update(range(before + 1, line.last_seq() + 1))
        connected = run.count(CONNECTED)
        broker.start()
        run.wait_log(CONNECTED, connected + 1)

    try:
        with subscribed(broker, f"{PREFIX}/event/#", persistent=True, client_id="erp") as erp:
            broker.save()  # the subscriber's session outlives the broker's restarts
            run = daemons(line)
            scan_everywhere(2)

            def unplug_both_while_down() -> None:
                scan_everywhere(2)
                for scanner in (pack, scrap):
                    _replug(run, scanner)
                scan_everywhere(2)

            outage(unplug_both_while_down)
            scan_everywhere(2)

            # Flapping: short outages, one scanner replugged in each.
            for flap, scanner in enumerate((pack, scrap, pack)):

                def unplug_one_while_down(scanner: Scanner = scanner, flap: int = flap) -> None:
                    scan_everywhere(1 + flap % 2)
                    _replug(run, scanner)
                    scan_everywhere(1)

                outage(unplug_one_while_down)
                scan_everywhere(1)

            # A broker that comes back and goes again before the relay reconnects.
            broker.stop()
            broker.start()
            broker.stop()
            scan_everywhere(2)
            broker.start()

            events = erp.wait_for_seqs(line.last_seq(), ceiling=90)
            poll(lambda: line.unpublished() == 0, "every event marked published", 90)
            assert run.terminate() == 0, run.log_text()
            events = erp.events()
    finally:
        for scanner in (pack, scrap):
            scanner.unplug()

    sent = [code for station in stations for code in station.sent]
    journal = line.journal()
    assert Counter(row[2] for row in journal) == Counter(sent)
    assert all(row[3] == "accepted" for row in journal)
    assert_scans_and_ledger_agree(line)
    assert_balances_equal_ledger(line)
    duplicates = assert_every_event_delivered(line, events)
    assert cut_off
    for event in events:
        if event["seq"] in cut_off:
            assert event.get("replayed") is True, event
    print(
        f"\noutages with unplugs: {len(sent)} scans, {line.last_seq()} events "
        f"({len(cut_off)} committed while cut off), {duplicates} duplicate copies"
    )
