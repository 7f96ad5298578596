"""CPU time of one barcode decode: the fast GS1 reader next to biip, same codes, same run.

For each typical label form, ``--codes`` distinct codes (a new serial each, as
on a flood of serialized labels, so nothing is served from a cache) go through
``hardware.barcode.decode`` (the fast reader, biip as its fallback) and through
``decode_with_biip`` (biip for every message), alternating which goes first.
Each of ``--runs`` runs gives µs of thread CPU per decode for both and their
ratio; the report shows the median and the spread (min-max) over the runs.
The floor is the least any decode does: the bytes decoded as UTF-8 and one
precompiled regex over the text. The last columns put each decode against
the writer's whole budget of 200 µs a scan (SPEC §9). A second table says
where biip's time goes, piece by piece.

    python bench/decode.py [--runs 9] [--codes 2000]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable, Sequence

from biip.checksums import gs1_standard_check_digit
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from biip.gs1_prefixes import GS1CompanyPrefix, GS1Prefix
from biip.gtin import Gtin
from common import GTIN, print_machine, table
from rig import REPO

from hardware.barcode import Barcode, decode, decode_with_biip

GS = "\x1d"
CASE_GTIN = "19506000134359"


def sscc(n: int) -> str:
    payload = f"0950600013{n:07d}"
    return payload + str(gs1_standard_check_digit(payload))


# Each form as a function of the code's number: what the labels of a line carry.
FORMS: dict[str, Callable[[int], str]] = {
    "(01)+(21), printed form": lambda n: f"(01){GTIN}(21)S{n:07d}",
    "]C1 (01)+(21), element strings": lambda n: f"]C101{GTIN}21S{n:07d}",
    "]d2 (01)(21)(10)(30), GS": lambda n: f"]d201{GTIN}21S{n:07d}{GS}10LOT-7{GS}305",
    "(01)(17)(10)(21), printed": lambda n: f"(01){GTIN}(17)301231(10)B1(21)S{n:07d}",
    "]C1 (00)(02)(37)(10), case": lambda n: f"]C100{sscc(n)}02{CASE_GTIN}3712{GS}10L1",
    "(01) alone, printed": lambda n: f"(01){GTIN}",
}
WRITER_BUDGET_US = 200.0  # SPEC §9: the writer's CPU per scan, decode included
FLOOR = re.compile(r"(?:\]..)?(?:\(\d+\))?[^\x00]*")


def cpu_us_per_call(call: Callable[[bytes], object], codes: Sequence[bytes]) -> float:
    began = time.thread_time_ns()
    for code in codes:
        call(code)
    return (time.thread_time_ns() - began) / 1000 / len(codes)


def floor(raw: bytes) -> object:
    return FLOOR.fullmatch(raw.decode("utf-8"))


def check_agreement(codes: Sequence[bytes]) -> None:
    for code in codes:
        fast, reference = decode(code), decode_with_biip(code)
        if fast != reference:
            raise SystemExit(f"the two paths differ on {code!r}:\n  {fast}\n  {reference}")
        if fast.gs1 is None and fast.error != "gs1-check-digit":
            raise SystemExit(f"not read as GS1: {code!r} -> {fast}")


def measure(codes: Sequence[bytes], runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"fast": [], "biip": [], "floor": [], "ratio": []}
    for run in range(runs):
        paths: list[tuple[str, Callable[[bytes], Barcode]]] = [
            ("fast", decode),
            ("biip", decode_with_biip),
        ]
        if run % 2:
            paths.reverse()
        for name, call in paths:
            samples[name].append(cpu_us_per_call(call, codes))
        samples["floor"].append(cpu_us_per_call(floor, codes))
        samples["ratio"].append(samples["biip"][-1] / samples["fast"][-1])
    return samples


def spread(values: Sequence[float], digits: int = 1) -> str:
    """Median and (min-max) of the runs."""
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def biip_pieces(runs: int, count: int) -> list[list[str]]:
    """µs per call of the biip calls one printed (01)+(21) code makes."""
    hri = f"(01){GTIN}(21)S0000001"
    pieces: dict[str, Callable[[], object]] = {
        "GS1Message.parse_hri, whole code": lambda: GS1Message.parse_hri(hri),
        "GS1ElementString.parse (01)": lambda: GS1ElementString.parse(f"01{GTIN}"),
        "  Gtin.parse": lambda: Gtin.parse(GTIN),
        "    GS1Prefix + GS1CompanyPrefix lookups": lambda: (
            GS1Prefix.extract(GTIN[1:-1]),
            GS1CompanyPrefix.extract(GTIN[1:-1]),
        ),
        "GS1ElementString.parse (21)": lambda: GS1ElementString.parse("21S0000001"),
    }
    rows = []
    for name, call in pieces.items():
        times = []
        for _ in range(runs):
            began = time.thread_time_ns()
            for _ in range(count):
                call()
            times.append((time.thread_time_ns() - began) / 1000 / count)
        rows.append([name, spread(times)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per form (default 9)")
    parser.add_argument("--codes", type=int, default=2000, help="codes per run (default 2000)")
    args = parser.parse_args()
    print_machine("decode: fast GS1 reader vs biip", REPO)
    rows = []
    ratios = []
    for name, form in FORMS.items():
        codes = [form(n).encode() for n in range(args.codes)]
        check_agreement(codes)
        samples = measure(codes, args.runs)
        ratios.append(statistics.median(samples["ratio"]))
        rows.append(
            [
                name,
                spread(samples["fast"]),
                spread(samples["biip"]),
                spread(samples["ratio"]),
                spread(samples["floor"], 2),
                f"{statistics.median(samples['fast']) / statistics.median(samples['floor']):.1f}",
                f"{statistics.median(samples['fast']) / WRITER_BUDGET_US:.1%}",
                f"{statistics.median(samples['biip']) / WRITER_BUDGET_US:.1%}",
            ]
        )
    print(f"µs of CPU per decode, median (min-max) of {args.runs} runs of {args.codes} codes")
    headers = ["form", "fast µs", "biip µs", "biip/fast", "floor µs", "fast/floor"]
    table([*headers, "fast/budget", "biip/budget"], rows)
    print(f"median speed-up over the forms: {statistics.median(ratios):.1f}x")
    print()
    print("where biip's time goes (µs per call, median (min-max))")
    table(["biip call", "µs"], biip_pieces(args.runs, args.codes))


if __name__ == "__main__":
    main()
