"""Bill-of-materials explosion and the structure hash that records it.

A part with a BOM that is not ``stocked`` is a phantom: its parent's
backflush explodes through it to its components. A ``stocked`` assembly is
held in stock and consumed as itself. A part without a BOM is a stock item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from edge.domain import exactjson
from edge.domain.model import BomLine
from edge.domain.quantity import CONTEXT, ONE, add, div, mul

Lines = tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Explosion:
    """Components issued per unit of a part, summed per part and sorted by part."""

    lines: Lines
    bom_hash: str

    def for_quantity(self, quantity: Decimal) -> Lines:
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


class BomGraph:
    """An immutable snapshot of every BOM and which assemblies are stocked.

    Explosions are memoised per part: the graph is rebuilt whenever items or
    BOMs change, so a cached explosion can never be stale.
    """

    def __init__(self, boms: Mapping[str, Sequence[BomLine]], stocked: Iterable[str]) -> None:
        self._boms = {parent: tuple(lines) for parent, lines in boms.items() if lines}
        self._stocked = frozenset(stocked)
        self._per_unit: dict[str, dict[str, Decimal]] = {}
        self._consumption: dict[str, Explosion] = {}
        self._components: dict[str, Explosion] = {}

    def has_bom(self, part: str) -> bool:
        return part in self._boms

    def is_stocked(self, part: str) -> bool:
        """Whether the part has its own stock balance (not a phantom)."""
        return part not in self._boms or part in self._stocked

    def consumption(self, part: str) -> Explosion:
        """What one unit shipped or scrapped takes out of stock."""
        cached = self._consumption.get(part)
        if cached is None:
            if self.is_stocked(part):
                cached = _explosion({part: ONE})
            else:
                cached = _explosion(self._children(part))
            self._consumption[part] = cached
        return cached

    def components(self, part: str) -> Explosion:
        """What building one unit of an assembly takes out of stock."""
        cached = self._components.get(part)
        if cached is None:
            cached = _explosion(self._children(part))
            self._components[part] = cached
        return cached

    def _children(self, part: str) -> dict[str, Decimal]:
        """Per-unit stock components of ``part``'s own BOM, phantoms exploded through."""
        cached = self._per_unit.get(part)
        if cached is not None:
            return cached
        result: dict[str, Decimal] = {}
        for line in self._boms.get(part, ()):
            factor = line_factor(line)
            if self.is_stocked(line.component):
                result[line.component] = add(result.get(line.component, Decimal(0)), factor)
                continue
            for grandchild, quantity in self._children(line.component).items():
                result[grandchild] = add(result.get(grandchild, Decimal(0)), mul(factor, quantity))
        self._per_unit[part] = result
        return result


def _explosion(per_unit: Mapping[str, Decimal]) -> Explosion:
    lines = tuple(sorted((part, qty.normalize(CONTEXT)) for part, qty in per_unit.items()))
    return Explosion(lines=lines, bom_hash=structure_hash(lines))
