"""The open-file limit at start: raised to the hard limit, or a refusal naming limit and need.

``edge run`` runs as a subprocess whose limits are set in the child before it
starts Python, like ``ulimit -n`` or systemd's ``LimitNOFILE=``; its scanners
are 20 real ptys and its broker a real Mosquitto.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.config import load_config
from edge.runtime.limits import SERIAL_LOOP_FDS, descriptor_need
from tests.broker import Mosquitto, poll
from tests.scanner_pty import CEILING_S, Pty

SCANNERS = 20
LOW = 64


@pytest.fixture
def ptys() -> Iterator[list[Pty]]:
    opened = [Pty.open() for _ in range(SCANNERS)]
    yield opened
    for pty in opened:
        pty.close()


def _config(directory: Path, ptys: list[Pty], broker: Mosquitto) -> Path:
    scanners = "".join(
        f'\n[[scanner]]\nid = "s{index:02d}"\nstation = "PACK-1"\nkind = "serial"\n'
        f'url = "{pty.path}"\nterminator = "cr"\n'
        for index, pty in enumerate(ptys)
    )
    path = directory / "edge.toml"
    path.write_text(
        '[site]\nid = "plant-1"\nnode = "limits"\n\n[database]\npath = "edge.db"\n\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 2\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n' + scanners
    )
    return path


def _limited(soft: int, hard: int) -> Callable[[], None]:
    def apply() -> None:  # in the child, before it execs Python
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


def _edge_run(config: Path, log: Path, soft: int, hard: int) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_limited(soft, hard),  # noqa: PLW1509 - only setrlimit, before exec
        )


def _open_files_limit(pid: int) -> tuple[int, int]:
    """The soft and hard "Max open files" of a running process, from /proc."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no 'Max open files' line")


def test_too_low_a_limit_refuses_to_start_in_one_line(
    tmp_path: Path,
    ptys: list[Pty],
    make_broker: Callable[..., Mosquitto],
    started: list[subprocess.Popen[bytes]],
) -> None:
    config = _config(tmp_path, ptys, make_broker())
    need = descriptor_need(load_config(config)).total
    assert need > LOW
    log = tmp_path / "edge-run.log"
    process = _edge_run(config, log, LOW, LOW)
    started.append(process)

    assert process.wait(CEILING_S) == 2, log.read_text()
    lines = log.read_text().splitlines()
    refusals = [line for line in lines if "open-file limit" in line]
    assert len(refusals) == 1, lines
    assert refusals[0].endswith(
        f"open-file limit {LOW} is too low for {SCANNERS} serial scanners, the broker and "
        f"the database: needs about {need}; raise LimitNOFILE= in the unit or ulimit -n"
    )
    text = log.read_text()
    assert "ready" not in text
    assert "Too many open files" not in text
    assert not (tmp_path / "edge.db").exists()  # refused before anything was opened


def test_a_low_soft_limit_is_raised_to_the_hard_one_and_every_scanner_connects(
    tmp_path: Path,
    ptys: list[Pty],
    make_broker: Callable[..., Mosquitto],
    started: list[subprocess.Popen[bytes]],
) -> None:
    broker = make_broker()
    config = _config(tmp_path, ptys, broker)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = descriptor_need(load_config(config)).total
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"this machine's hard open-file limit {hard} is below the need {need}")
    high = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096
    log = tmp_path / "edge-run.log"
    process = _edge_run(config, log, LOW, high)
    started.append(process)

    def all_connected() -> bool:
        assert process.poll() is None, log.read_text()
        text = log.read_text()
        scanners = set(re.findall(r"scanner (s\d\d) connected:", text))
        return len(scanners) == SCANNERS and "connected to " in text

    poll(all_connected, f"{SCANNERS} scanners and the broker", CEILING_S * 2)
    assert _open_files_limit(process.pid) == (high, high)
    text = log.read_text()
    assert "ready: 20 scanners" in text
    assert "Too many open files" not in text
    process.terminate()
    assert process.wait(CEILING_S) == 0


def _scanners_config(directory: Path, scanners: str) -> Path:
    path = directory / "count.toml"
    path.write_text(
        '[site]\nid = "plant-1"\nnode = "count"\n\n[database]\npath = "edge.db"\n\n'
        '[[station]]\nid = "PACK-1"\nmode = "ship"\n' + scanners
    )
    return path


def test_the_need_counts_each_kind_of_scanner(tmp_path: Path) -> None:
    """Per scanner: a device 5, a network scanner 1, a URL handler 1, a wedge 3; then the rest."""
    scanners = "".join(
        f'\n[[scanner]]\nid = "{scanner_id}"\nstation = "PACK-1"\n{settings}\n'
        for scanner_id, settings in [
            ("tty", 'kind = "serial"\nurl = "/dev/ttyACM0"'),
            ("net", 'kind = "serial"\nurl = "socket://10.0.0.5:2001"'),
            ("loop", 'kind = "serial"\nurl = "loop://"'),
            ("hid-1", 'kind = "evdev"\nvendor = 1\nproduct = 2'),
            ("hid-2", 'kind = "evdev"\nvendor = 1\nproduct = 3'),
        ]
    )
    config = load_config(_scanners_config(tmp_path, scanners))
    with_broker = descriptor_need(config)
    # a device, a socket, a URL handler; the serial loop once; two wedge scanners
    assert with_broker.scanner_fds == 1 + 1 + 1 + SERIAL_LOOP_FDS + 3 + 3
    assert with_broker.describe() == (
        "3 serial scanners, 2 keyboard-wedge scanners, the broker and the database"
    )
    alone = descriptor_need(config, broker=False)
    assert with_broker.total - alone.total == 6  # paho's socket and wake-up pair, twice
    assert alone.describe() == "3 serial scanners, 2 keyboard-wedge scanners and the database"


def test_no_scanner_still_needs_the_database_and_the_process(tmp_path: Path) -> None:
    config = load_config(_scanners_config(tmp_path, ""))
    need = descriptor_need(config, broker=False)
    assert need.describe() == "the database"
    assert need.scanner_fds == 0
    assert 0 < need.total < LOW  # the smallest daemon starts under `ulimit -n 64`


_ARENAS = r"""
import ctypes, sys, threading
from edge.runtime.limits import limit_malloc_arenas
if sys.argv[1] == "limited":
    assert limit_malloc_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
start = threading.Barrier(4)
def allocate():
    start.wait()
    for _ in range(2000):
        libc.malloc(4096)  # kept: the arena must stay in use
threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads: thread.start()
for thread in threads: thread.join()
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
out = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
"""


@pytest.mark.parametrize(("mode", "one_arena"), [("limited", True), ("default", False)])
def test_the_daemons_threads_share_one_malloc_arena(
    tmp_path: Path, mode: str, one_arena: bool
) -> None:
    """Threads allocating at once get arenas of their own unless limited (glibc's malloc_info)."""
    report = tmp_path / "malloc.xml"
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    subprocess.run([sys.executable, "-c", _ARENAS, mode, str(report)], check=True, env=env,
                   timeout=60)  # fmt: skip
    heaps = report.read_text().count("<heap nr=")
    assert (heaps == 1) is one_arena, f"{heaps} arenas"
