"""Bill-of-materials explosion and the structure hash that records it.

A part with a BOM that is not ``stocked`` is a phantom: its parent's
backflush explodes through it to its components. A ``stocked`` assembly is
held in stock and consumed as itself. A part without a BOM is a stock item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from edge.domain import exactjson
from edge.domain.lru import Lru
from edge.domain.model import BomLine
from edge.domain.quantity import CONTEXT, ONE, add, div, mul

if TYPE_CHECKING:
    from edge.domain.plan import PartRules, PostingPlan

Lines = tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Explosion:
    """Components issued per unit of a part, summed per part and sorted by part."""

    lines: Lines
    bom_hash: str

    def for_quantity(self, quantity: Decimal) -> Lines:
        if quantity is ONE:
            # A scan of one unit passes ONE itself (most scans), and x * 1 is x,
            # digits and exponent alike. An equal quantity spelt "1.0" is not ONE.
            return self.lines
        return tuple((part, mul(per_unit, quantity)) for part, per_unit in self.lines)


def structure_hash(lines: Lines) -> str:
    """SHA-256 of the canonical JSON ``[[part, quantity per unit], ...]``."""
    canonical = exactjson.dumps([[part, quantity] for part, quantity in lines])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def line_factor(line: BomLine) -> Decimal:
    """Quantity of the component per unit of the parent, scrap allowance included."""
    return mul(line.qty_per, add(ONE, div(line.scrap_pct, Decimal(100))))


class BomCycleError(ValueError):
    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__("BOM cycle: " + " -> ".join(self.cycle))


def find_cycle(boms: Mapping[str, Sequence[BomLine]]) -> list[str] | None:
    """A cycle in the parent -> component graph, as ``[a, b, ..., a]``, or None."""
    done: set[str] = set()
    for root in sorted(boms):
        if root in done:
            continue
        # Iterative depth-first search: deep BOMs must not hit the recursion limit.
        path: list[str] = [root]
        on_path = {root}
        stack = [iter(sorted(line.component for line in boms.get(root, ())))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if child in on_path:
                return [*path[path.index(child) :], child]
            if child in done:
                continue
            path.append(child)
            on_path.add(child)
            stack.append(iter(sorted(line.component for line in boms.get(child, ()))))
    return None


class BomSource(Protocol):
    """Where a graph reads BOMs and stocked flags, on demand."""

    def bom(self, part: str) -> Sequence[BomLine]:
        """The part's BOM lines; empty when it has none."""
        ...

    def stocked(self, part: str) -> bool:
        """The item's ``stocked`` flag (False for an unknown part)."""
        ...


class _FixedBoms:
    """A BomSource over BOMs and stocked parts given whole."""

    def __init__(self, boms: Mapping[str, Sequence[BomLine]], stocked: Iterable[str]) -> None:
        self._boms = {parent: tuple(lines) for parent, lines in boms.items() if lines}
        self._stocked = frozenset(stocked)

    def bom(self, part: str) -> Sequence[BomLine]:
        return self._boms.get(part, ())

    def stocked(self, part: str) -> bool:
        return part in self._stocked


# Explosions kept per catalog version, of each kind. A 4,000-assembly catalog
# exploded whole held some 26 MB; a 50-component product's explosion is about
# 10 kB, and the products a plant ships in a day are a few hundred at most.
EXPLOSIONS_KEPT = 128
PART_RULES_KEPT = 4096  # a part's rules are its item's policy and two flags: some 300 bytes


class ExplosionMemo:
    """Explosions of one catalog version, shared by every graph built over it."""

    def __init__(self, capacity: int | None = None) -> None:
        capacity = EXPLOSIONS_KEPT if capacity is None else capacity
        self.per_unit: Lru[str, dict[str, Decimal]] = Lru(capacity)
        self.consumption: Lru[str, Explosion] = Lru(capacity)
        self.components: Lru[str, Explosion] = Lru(capacity)
        # Posting plans of one unit, by (part, bom_hash); the rules of parts (plan.py).
        self.plans: Lru[tuple[str, str], PostingPlan] = Lru(capacity)
        self.rules: Lru[str, PartRules] = Lru(PART_RULES_KEPT)


class BomGraph:
    """An immutable view of every BOM and which assemblies are stocked.

    Explosions are memoised per part: a graph (and its memo) serves one
    catalog version, so a cached explosion can never be stale. Built from
    whole BOMs, or with :meth:`over` from a source read on demand.
    """

    def __init__(self, boms: Mapping[str, Sequence[BomLine]], stocked: Iterable[str]) -> None:
        self._source: BomSource = _FixedBoms(boms, stocked)
        self._memo = ExplosionMemo()

    @classmethod
    def over(cls, source: BomSource, memo: ExplosionMemo) -> BomGraph:
        """A graph reading ``source`` on demand, sharing ``memo`` with others of its version."""
        graph = cls.__new__(cls)
        graph._source = source
        graph._memo = memo
        return graph

    def has_bom(self, part: str) -> bool:
        return bool(self._source.bom(part))

    def is_stocked(self, part: str) -> bool:
        """Whether the part has its own stock balance (not a phantom)."""
        return not self.has_bom(part) or self._source.stocked(part)

    def consumption(self, part: str) -> Explosion:
        """What one unit shipped or scrapped takes out of stock."""
        cached = self._memo.consumption.get(part)
        if cached is None:
            # A phantom's consumption is its components: one object, kept once.
            cached = _explosion({part: ONE}) if self.is_stocked(part) else self.components(part)
            self._memo.consumption.put(part, cached)
        return cached

    def components(self, part: str) -> Explosion:
        """What building one unit of an assembly takes out of stock."""
        cached = self._memo.components.get(part)
        if cached is None:
            cached = self._memo.components.put(part, _explosion(self._children(part)))
        return cached

    def plan(self, part: str, bom_hash: str, make: Callable[[], PostingPlan]) -> PostingPlan:
        """The posting plan of one unit of ``part`` by this structure, made once per version."""
        key = (part, bom_hash)
        cached = self._memo.plans.get(key)
        if cached is None:
            cached = self._memo.plans.put(key, make())
        return cached

    def rules(self, part: str, make: Callable[[str], PartRules]) -> PartRules:
        """The stock rules' view of the part's item, found once per catalog version."""
        cached = self._memo.rules.get(part)
        if cached is None:
            cached = self._memo.rules.put(part, make(part))
        return cached

    def _children(self, part: str) -> dict[str, Decimal]:
        """Per-unit stock components of ``part``'s own BOM, phantoms exploded through."""
        cached = self._memo.per_unit.get(part)
        if cached is not None:
            return cached
        result: dict[str, Decimal] = {}
        for line in self._source.bom(part):
            factor = line_factor(line)
            if self.is_stocked(line.component):
                result[line.component] = add(result.get(line.component, Decimal(0)), factor)
                continue
            for grandchild, quantity in self._children(line.component).items():
                result[grandchild] = add(result.get(grandchild, Decimal(0)), mul(factor, quantity))
        return self._memo.per_unit.put(part, result)


def _explosion(per_unit: Mapping[str, Decimal]) -> Explosion:
    lines = tuple(sorted((part, qty.normalize(CONTEXT)) for part, qty in per_unit.items()))
    return Explosion(lines=lines, bom_hash=structure_hash(lines))
