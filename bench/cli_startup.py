"""Start-up time of the command line: ``edge --help`` and ``edge stock`` on 1,000 items.

Goals (SPEC §9): ``edge --help`` under 150 ms, ``edge stock`` under 300 ms on a
1,000-item database. Each command runs ``--runs`` times as a fresh subprocess,
as a person at a terminal starts it, and is reported as p50 and min wall time
next to the physical limit measured in the same run: ``python -c pass``, the
interpreter starting and stopping with nothing imported. ``over floor`` is
what the product itself adds. The biggest imports of ``edge stock`` (from
``python -X importtime``) close the report, to say where the time goes.

    python bench/cli_startup.py [--runs 20] [--items 1000] [--dir D] [--keep]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from common import arguments, print_machine, scratch
from rig import REPO

GOALS_MS = {"edge --help": 150.0, "edge stock": 300.0}
CONFIG = """\
[site]
id = "bench"
node = "edge"

[database]
path = "edge.db"

[[station]]
id = "PACK-1"
mode = "ship"
"""
ITEM_HEADER = "part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple"


def write_catalog(directory: Path, items: int) -> None:
    """``items`` stocked parts with a reorder policy, opening stock for each, and a config."""
    (directory / "edge.toml").write_text(CONFIG)
    rows = [ITEM_HEADER] + [
        f"P-{n:05d},Bench part {n},EA,true,10,50,,5" for n in range(items)
    ]  # fmt: skip
    (directory / "items.csv").write_text("\n".join(rows) + "\n")
    stock = ["part,on_hand"] + [f"P-{n:05d},{100 + n}" for n in range(items)]
    (directory / "stock.csv").write_text("\n".join(stock) + "\n")
    for kind in ("items", "stock"):
        edge(directory, "import", kind, f"{kind}.csv")


def environment(directory: Path) -> dict[str, str]:
    return {**os.environ, "EDGE_CONFIG": str(directory / "edge.toml")}


def edge(directory: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edge", *args],
        cwd=directory,
        env=environment(directory),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"edge {' '.join(args)} failed:\n{done.stderr.decode()}")


def timed(command: Sequence[str], directory: Path, runs: int) -> list[float]:
    """Wall time in ms of ``runs`` fresh runs of ``command``, output discarded."""
    times = []
    env = environment(directory)
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(
            command, cwd=directory, env=env, stdout=subprocess.DEVNULL, check=False
        )
        times.append((time.perf_counter() - began) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}")
    return times


def biggest_imports(directory: Path, count: int = 8) -> list[tuple[float, str]]:
    """The top-level modules ``edge stock`` imports that cost most (cumulative ms)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "edge", "stock"],
        cwd=directory,
        env=environment(directory),
        capture_output=True,
        text=True,
        check=False,
    )
    costs: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        if name.strip() == "imported package" or not cumulative.strip().isdigit():
            continue
        if not name.startswith(" ") or name.startswith("  "):
            continue  # nested imports are inside their importer's cumulative time
        costs[name.strip()] = int(cumulative) / 1000
    return sorted(((ms, name) for name, ms in costs.items()), reverse=True)[:count]


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        [
            ("--runs", {"type": int, "default": 20, "help": "runs per command"}),
            ("--items", {"type": int, "default": 1000, "help": "items in the database"}),
        ],
    )
    with scratch(args) as directory:
        print_machine("edge command start-up", directory)
        write_catalog(directory, args.items)
        python = [sys.executable]
        commands = {
            "python -c pass": [*python, "-c", "pass"],
            "edge --help": [*python, "-m", "edge", "--help"],
            "edge stock": [*python, "-m", "edge", "stock"],
            "edge stock --json": [*python, "-m", "edge", "stock", "--json"],
            "edge events --limit 20": [*python, "-m", "edge", "events", "--limit", "20"],
        }
        # Interleaved rounds, so that a burst of load on the machine hits every command alike.
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name] += timed(command, directory, 1)
        floor = statistics.median(samples["python -c pass"])
        print(f"{args.items} items, {args.runs} runs of each, interleaved; repo {REPO}\n")
        print(f"{'command':<24}{'p50 ms':>9}{'min ms':>9}{'over floor':>12}{'goal':>9}  verdict")
        for name, times in samples.items():
            p50 = statistics.median(times)
            goal = GOALS_MS.get(name)
            verdict = "" if goal is None else ("under" if p50 < goal else "OVER")
            shown_goal = "" if goal is None else f"{goal:.0f}"
            over = "" if name == "python -c pass" else f"{p50 - floor:+.0f}"
            print(f"{name:<24}{p50:>9.1f}{min(times):>9.1f}{over:>12}{shown_goal:>9}  {verdict}")
        print("\nBiggest top-level imports of `edge stock` (cumulative ms, one -X importtime run):")
        for ms, name in biggest_imports(directory):
            print(f"  {ms:8.1f}  {name}")


if __name__ == "__main__":
    main()
