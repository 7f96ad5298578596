"""What the scan writer counts: outcomes, held and waiting scans, and its CPU by stage.

The writer's CPU per scan is the scan path's budget (SPEC §9): :class:`StageCpu`
counts it by stage, and the writer logs the totals when it stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageCpu:
    """The writer thread's CPU time by stage, over all batches (SPEC §9's budget per scan)."""

    scans: int = 0
    batches: int = 0
    ns: dict[str, int] = field(default_factory=dict)

    def add(self, stage: str, elapsed_ns: int) -> None:
        self.ns[stage] = self.ns.get(stage, 0) + elapsed_ns

    def summary(self) -> str:
        """``N scans in B batches; CPU us per scan: decode x, apply y, ..., total t``."""
        per_scan = max(self.scans, 1) * 1000
        stages = [f"{stage} {ns / per_scan:.1f}" for stage, ns in self.ns.items()]
        stages.append(f"total {sum(self.ns.values()) / per_scan:.1f}")
        return f"{self.scans} scans in {self.batches} batches; CPU us per scan: {', '.join(stages)}"


@dataclass
class WriterStats:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    unstored: int = 0
    waiting: int = 0  # scans kept out by a lock held elsewhere, not yet answered
    storage_ok: bool = True
    last_error: str = ""
    cpu: StageCpu = field(default_factory=StageCpu)
