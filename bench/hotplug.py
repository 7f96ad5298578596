"""Hot-plug: how soon a serial scanner that comes back is read again by ``edge run``.

A serial scanner is bound by a stable path (as ``/dev/serial/by-id/...`` is in
a plant): here a symbolic link in the scratch directory to the slave side of
a pseudo-terminal. Each cycle unplugs it (the link is removed and the
terminal hung up, as the kernel does when a USB-CDC scanner is pulled),
waits a random time so that the return falls anywhere in the reader's retry
schedule, plugs a new terminal in under the same path, and measures, from
the moment the link exists again:

* reopened: the daemon logs the scanner as connected again;
* first beep: a label typed right after the return gets its good-read byte
  (so the scan was read, committed and answered).

The promise (README, issue "hot-plug"): a scanner is read again within 2 s
of its return. The physical limit is zero: the device exists from that
moment. A USB HID (evdev) scanner is found by udev events and a 0.5 s rescan;
/dev/uinput is not available on every machine, so this measures the serial path.

    .venv/bin/python bench/hotplug.py [--cycles 20] [--dir DIR]
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    arguments,
    free_port,
    import_catalog,
    load,
    ms,
    percentile,
    print_machine,
    scratch,
    serial_code,
    service_for,
    table,
    write_three_level_catalog,
)
from scale import start_daemon

ACK = 0x06
GOAL_S = 2.0
CEILING_S = 30.0


class PluggedScanner:
    """A pseudo-terminal reachable under a stable path while it is plugged in."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.slave = -1

    def plug(self) -> float:
        self.master, self.slave = os.openpty()
        self.link.symlink_to(os.ttyname(self.slave))
        return time.perf_counter()

    def unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master = self.slave = -1

    def type(self, code: str) -> None:
        os.write(self.master, code.encode() + b"\r")

    def wait_for_ack(self, ceiling: float = CEILING_S) -> float:
        deadline = time.perf_counter() + ceiling
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.01)
            if ready and ACK in os.read(self.master, 64):
                return time.perf_counter()
        raise SystemExit("no good-read byte within the ceiling")


def write_config(directory: Path, link: Path) -> Path:
    path = directory / "edge.toml"
    path.write_text(
        '[site]\nid = "bench"\nnode = "hotplug"\n\n'
        '[database]\npath = "edge.db"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n\n'
        f'[[scanner]]\nid = "pack"\nstation = "PACK-1"\nkind = "serial"\nurl = "{link}"\n'
        'terminator = "cr"\nfeedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
    )
    return path


def connections(log: Path) -> int:
    return log.read_bytes().count(b" connected: ")


def wait_until(condition: Callable[[], bool], what: str) -> float:
    deadline = time.perf_counter() + CEILING_S
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.002)
    return time.perf_counter()


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        [("--cycles", {"type": int, "default": 20, "help": "unplug/replug cycles"})],
    )
    with scratch(args) as directory:
        print_machine("hot-plug: a serial scanner unplugged and plugged back", directory)
        service = service_for(directory / "edge.db")
        import_catalog(service, write_three_level_catalog(directory))
        service.engine.dispose()
        link = directory / "scanner-by-id"
        scanner = PluggedScanner(link)
        scanner.plug()
        config = write_config(directory, link)
        log = directory / "daemon.log"
        daemon = start_daemon(config, log, scanners=1, env={})
        rng = random.Random(7)
        reopened: list[float] = []
        first_beep: list[float] = []
        try:
            for cycle in range(args.cycles):
                before = connections(log)
                scanner.unplug()
                time.sleep(rng.uniform(0.0, 2.5))  # the return lands anywhere in the retries
                returned = scanner.plug()
                reopened.append(
                    wait_until(lambda n=before: connections(log) > n, "the reopen") - returned
                )
                scanner.type(serial_code(cycle, prefix="H"))
                first_beep.append(scanner.wait_for_ack() - returned)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
            scanner.unplug()

        print(f"{args.cycles} cycles; times from the device's return (link created)")
        rows = [
            [name, len(values), ms(percentile(values, 0.5)), ms(percentile(values, 0.99)),
             ms(max(values))]
            for name, values in (("reopened (log)", reopened), ("first beep", first_beep))
        ]  # fmt: skip
        table(["measure", "cycles", "p50 ms", "p99 ms", "max ms"], rows)
        print(f"load        {load()} at end")
        print()
        worst = max(first_beep)
        verdict = "pass" if worst <= GOAL_S else "MISS"
        print(f"Worst return to first beep {worst:.2f} s (goal <= {GOAL_S:.0f} s): {verdict}")


if __name__ == "__main__":
    main()
