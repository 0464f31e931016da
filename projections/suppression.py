"""Small-count suppression with complementary suppression, audited against recovery.

Pure. The input is a set of integer cells (counts, or money in cents) and the
exact linear equations an outside reader knows hold between them (a region is
the sum of its districts, a year of its quarters, a total of its parts, ...).
The output marks the cells that must not be published:

- ``primary``: a count below the threshold (``0 < v < threshold``; zeros are
  published unless ``suppress_zeros``): shown as ``<5``;
- ``dependent``: an amount or a ratio computed from a suppressed count, or a
  count that (nearly) equals a sum of counts one of which is suppressed;
- ``complementary``: a published-looking cell withheld so that the others
  cannot be recovered by arithmetic.

Complementary suppression repeats two steps until neither adds a cell:

1. every equation holding exactly one suppressed cell gets a second one: the
   smallest non-zero published member of the same family (counts protect
   counts, amounts protect amounts);
2. an audit plays the attacker on everything still published: interval
   reasoning over every equation (a suppressed count is known to lie in
   ``[1, threshold-1]``, a complementary one to be at least the threshold) and
   exact linear algebra (a suppressed cell whose value is a linear combination
   of published values, however many equations it takes). Each cell the audit
   can pin to a single value gets one more complement in one of its equations.

A small count whose ``<5`` bound would pin its withheld parts (a total of 4
over four withheld ones: zeros are published) is shown as ``x`` instead,
withheld without a bound.

Cells another publication already decided (``decided``: withheld there, with
its mark, or shown there) keep their fate: none is ever chosen as a
complement, so a pattern decided after another never withholds what the
other shows, and the audit knows every value the other shows.

:func:`disclosed` is the audit on its own, for tests and for checking a
pattern before it is published.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)

Mark = Literal["primary", "complementary", "dependent"]
Family = Literal["count", "amount", "ratio", "public"]
"""``public``: counts that identify nobody (activities); never suppressed, never protected."""

DEFAULT_THRESHOLD: Final = 5
_PRIME: Final = (1 << 61) - 1
_MAX_PASSES: Final = 60


@dataclass(frozen=True)
class Policy:
    """Suppression settings: counts ``0 < v < threshold`` are suppressed (``0 <= v`` with ``suppress_zeros``)."""

    threshold: int = DEFAULT_THRESHOLD
    suppress_zeros: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int) or self.threshold < 1:
            raise ValueError(f"threshold: must be a whole number of at least 1, got {self.threshold!r}")

    def is_small(self, value: int) -> bool:
        """Whether a count is suppressed on its own."""
        return (value > 0 or (self.suppress_zeros and value == 0)) and value < self.threshold

    @property
    def label(self) -> str:
        """How a primary suppression is shown: ``<5``."""
        return f"<{self.threshold}"


@dataclass(frozen=True)
class Cell(Generic[K]):
    """One value: ``family`` count or amount (integers: amounts in cents) or ratio (never in equations).

    ``basis``: the counts it is computed from (amounts and ratios): when one of them is suppressed, so is it.
    """

    value: int
    family: Family = "count"
    basis: tuple[K, ...] = ()


@dataclass(frozen=True)
class Equation(Generic[K]):
    """``sum(coefficient * cell) == 0`` over ``terms`` (coefficients +1 or -1), e.g. total - a - b = 0."""

    terms: tuple[tuple[K, int], ...] = field()

    @staticmethod
    def total(total: K, parts: Iterable[K]) -> Equation[K]:
        """``total == sum(parts)``."""
        return Equation(((total, 1), *((p, -1) for p in parts)))

    @property
    def cells(self) -> tuple[K, ...]:
        return tuple(k for k, _ in self.terms)


@dataclass
class Result(Generic[K]):
    """Marks of the suppressed cells, and how many rounds and complements the protection took."""

    marks: dict[K, Mark]
    rounds: int = 0
    unresolved: list[K] = field(default_factory=list)
    """Suppressed cells the audit can still pin down (no complement was left to add): should be empty."""


def suppress(
    cells: Mapping[K, Cell[K]],
    equations: Sequence[Equation[K]],
    policy: Policy | None = None,
    *,
    decided: Mapping[K, Mark | None] | None = None,
) -> Result[K]:
    """Mark the cells that must not be published (see the module docstring).

    ``decided``: cells whose fate another publication settled (a mark, or None: published there). They
    keep it: none is ever chosen as a complement, and the attacker knows every published one.
    """
    policy = policy or Policy()
    _check(cells, equations)
    fixed = frozenset(decided or ())
    marks: dict[K, Mark] = {
        k: "primary" for k, c in cells.items() if c.family == "count" and policy.is_small(c.value) and k not in fixed
    }
    marks.update({k: m for k, m in (decided or {}).items() if m is not None})
    rounds = 0
    families: tuple[Family, ...] = ("count", "amount")
    for family in families:
        # A cell computed from (or overlapping) suppressed counts goes too; then protect the family again.
        while True:
            rounds += _protect(cells, equations, policy, marks, family, fixed)
            if not _mark_dependents(cells, marks, family, fixed):
                break
    _mark_dependents(cells, marks, "ratio", fixed)
    _unbind(cells, equations, policy, marks, fixed)
    unresolved = sorted(disclosed(cells, equations, marks, policy), key=repr)
    return Result(marks, rounds, unresolved)


def _unbind(
    cells: Mapping[K, Cell[K]],
    equations: Sequence[Equation[K]],
    policy: Policy,
    marks: dict[K, Mark],
    fixed: Collection[K],
) -> None:
    """Show a small total as ``x`` (withheld, no bound) where its ``<5`` bound pins its withheld parts.

    Zeros are published, so a ``<5`` total over four or more withheld non-zero parts leaves each of them
    exactly 1, and no further complement can change that. Dropping the bound (the largest such count in
    the equations of a pinned cell, one at a time) only widens what the attacker knows, so it exposes
    nothing new.
    """
    for _ in range(len(marks)):
        relevant = [eq for eq in equations if any(k in marks for k in eq.cells)]
        exact: set[K] = _linear(cells, relevant, marks)
        pinned = _intervals(cells, relevant, marks, policy) - exact
        bounded = {
            k
            for eq in relevant
            if any(p in eq.cells for p in pinned)
            for k in eq.cells
            if marks.get(k) == "primary" and k not in fixed
        }
        if not bounded:
            return
        marks[max(bounded, key=lambda k: (cells[k].value, repr(k)))] = "complementary"


def _mark_dependents(
    cells: Mapping[K, Cell[K]], marks: dict[K, Mark], family: Family, fixed: Collection[K] = frozenset()
) -> bool:
    added = False
    for key, cell in cells.items():
        if cell.family == family and key not in marks and key not in fixed and any(b in marks for b in cell.basis):
            marks[key] = "dependent"
            added = True
    return added


def _check(cells: Mapping[K, Cell[K]], equations: Sequence[Equation[K]]) -> None:
    for eq in equations:
        families = set()
        for key, coefficient in eq.terms:
            if key not in cells:
                raise ValueError(f"equation names an unknown cell {key!r}")
            if coefficient not in (1, -1):
                raise ValueError(f"equation coefficients must be +1 or -1, got {coefficient} for {key!r}")
            families.add(cells[key].family)
        if len(families) > 1 or "ratio" in families:
            raise ValueError(f"an equation must hold cells of one additive family, got {sorted(families)}")
        if sum(cells[k].value * c for k, c in eq.terms) != 0:
            raise ValueError(f"equation does not hold for the values given: {eq.terms!r}")


def _protect(
    cells: Mapping[K, Cell[K]],
    equations: Sequence[Equation[K]],
    policy: Policy,
    marks: dict[K, Mark],
    family: Family,
    fixed: Collection[K],
) -> int:
    mine = [eq for eq in equations if cells[eq.terms[0][0]].family == family]
    by_cell: dict[K, list[int]] = defaultdict(list)
    for index, eq in enumerate(mine):
        for key in eq.cells:
            by_cell[key].append(index)
    rounds = 0
    while True:
        rounds += 1
        _single_unknowns(cells, mine, by_cell, marks, fixed)
        exposed = [k for k in disclosed(cells, mine, marks, policy) if cells[k].family == family]
        added = False
        for key in sorted(exposed, key=repr):
            if _complement(cells, mine, by_cell[key], marks, fixed) is not None:
                added = True
        if not added:
            return rounds


def _single_unknowns(
    cells: Mapping[K, Cell[K]],
    equations: Sequence[Equation[K]],
    by_cell: Mapping[K, list[int]],
    marks: dict[K, Mark],
    fixed: Collection[K],
) -> None:
    """Until no equation holds exactly one suppressed cell: add the smallest non-zero published member."""
    queue = sorted({i for k in marks for i in by_cell.get(k, ())})
    pending = set(queue)
    while queue:
        index = queue.pop()
        pending.discard(index)
        eq = equations[index]
        if sum(1 for k in eq.cells if k in marks) != 1:
            continue
        added = _complement(cells, equations, [index], marks, fixed)
        if added is None:
            continue
        for other in by_cell.get(added, ()):
            if other not in pending:
                pending.add(other)
                queue.append(other)


def _complement(
    cells: Mapping[K, Cell[K]],
    equations: Sequence[Equation[K]],
    indexes: Sequence[int],
    marks: dict[K, Mark],
    fixed: Collection[K],
) -> K | None:
    """Suppress the smallest non-zero published member of the equations (a zero only as a last resort)."""
    found = _add_complement(cells, equations, indexes, marks, fixed, allow_zero=False)
    if found is None:
        found = _add_complement(cells, equations, indexes, marks, fixed, allow_zero=True)
    return found


def _add_complement(
    cells: Mapping[K, Cell[K]],
    equations: Sequence[Equation[K]],
    indexes: Iterable[int],
    marks: dict[K, Mark],
    fixed: Collection[K],
    *,
    allow_zero: bool,
) -> K | None:
    candidates = [
        k
        for i in indexes
        for k in equations[i].cells
        if k not in marks and k not in fixed and (allow_zero or cells[k].value != 0)
    ]
    if not candidates:
        return None
    chosen = min(candidates, key=lambda k: (abs(cells[k].value), repr(k)))
    marks[chosen] = "complementary"
    return chosen


# -- the attacker ---------------------------------------------------------------------------------------
def disclosed(
    cells: Mapping[K, Cell[K]],
    equations: Sequence[Equation[K]],
    marks: Mapping[K, Mark],
    policy: Policy | None = None,
) -> set[K]:
    """Suppressed cells an outsider can pin to one value from the published cells and the equations.

    The outsider knows every published value, every equation, that a primary count lies in
    ``[1, threshold-1]`` (``[0, ...]`` with ``suppress_zeros``), that a complementary count is at
    least the threshold (or at least 0 when it is 0: a last-resort complement), and that suppressed
    amounts are positive. Two attacks: interval propagation over the equations, and exact linear
    algebra over the suppressed cells (any combination of equations).
    """
    policy = policy or Policy()
    relevant = [eq for eq in equations if any(k in marks for k in eq.cells)]
    if not relevant:
        return set()
    found = _linear(cells, relevant, marks)
    found |= _intervals(cells, relevant, marks, policy)
    return found


def _domain(cell: Cell[K], mark: Mark | None, policy: Policy) -> tuple[int, int | None]:
    if mark is None:
        return cell.value, cell.value
    if cell.family == "count":
        if mark == "primary":
            return (0 if policy.suppress_zeros else 1), policy.threshold - 1
        if cell.value >= policy.threshold:
            return policy.threshold, None
        return 0, None
    return (1 if cell.value > 0 else 0), None


def _intervals(
    cells: Mapping[K, Cell[K]], equations: Sequence[Equation[K]], marks: Mapping[K, Mark], policy: Policy
) -> set[K]:
    lo: dict[K, int] = {}
    hi: dict[K, int | None] = {}
    for eq in equations:
        for key in eq.cells:
            if key not in lo:
                lo[key], hi[key] = _domain(cells[key], marks.get(key), policy)
    for _ in range(_MAX_PASSES):
        changed = False
        for eq in equations:
            for key, coefficient in eq.terms:
                if key not in marks:
                    continue
                # coefficient * x = -(sum of the other terms)
                low: int | None = 0
                high: int | None = 0
                for other, c in eq.terms:
                    if other == key:
                        continue
                    o_lo, o_hi = lo[other], hi[other]
                    # -(c * x_other): its minimum uses the other's max when c > 0
                    term_min = -c * o_hi if c > 0 and o_hi is not None else (-c * o_lo if c < 0 else None)
                    term_max = -c * o_lo if c > 0 else (-c * o_hi if o_hi is not None else None)
                    low = None if low is None or term_min is None else low + term_min
                    high = None if high is None or term_max is None else high + term_max
                if coefficient < 0:
                    low, high = (None if high is None else -high), (None if low is None else -low)
                if low is not None and low > lo[key]:
                    lo[key] = low
                    changed = True
                if high is not None and (hi[key] is None or high < hi[key]):  # type: ignore[operator]
                    hi[key] = high
                    changed = True
        if not changed:
            break
    return {k for k in lo if k in marks and hi[k] is not None and hi[k] == lo[k]}


def _linear(cells: Mapping[K, Cell[K]], equations: Sequence[Equation[K]], marks: Mapping[K, Mark]) -> set[K]:
    """Suppressed cells whose value follows from the published ones by linear algebra (mod a large prime).

    Sparse Gauss-Jordan elimination over the suppressed cells: a cell is determined exactly when its
    fully reduced row holds nothing but its own pivot.
    """
    unknown = sorted({k for eq in equations for k in eq.cells if k in marks}, key=repr)
    column = {k: i for i, k in enumerate(unknown)}
    pivots: dict[int, dict[int, int]] = {}  # pivot column -> fully reduced row
    holders: dict[int, set[int]] = defaultdict(set)  # column -> pivot rows holding it
    for eq in equations:
        row: dict[int, int] = {}
        for key, coefficient in eq.terms:
            if key in marks:
                j = column[key]
                row[j] = (row.get(j, 0) + coefficient) % _PRIME
        row = {j: v for j, v in row.items() if v}
        # Pivot rows hold no other pivot column, so one pass over the pivots present suffices.
        for j in [j for j in row if j in pivots]:
            factor = row.get(j)
            if factor:
                _axpy(row, pivots[j], -factor)
        if not row:
            continue
        pivot = min(row)
        inverse = pow(row[pivot], _PRIME - 2, _PRIME)
        row = {j: v * inverse % _PRIME for j, v in row.items()}
        for owner in list(holders.get(pivot, ())):
            prow = pivots[owner]
            before = set(prow)
            _axpy(prow, row, -prow[pivot])
            for j in before - set(prow):
                holders[j].discard(owner)
            for j in set(prow) - before:
                holders[j].add(owner)
        pivots[pivot] = row
        for j in row:
            holders[j].add(pivot)
    return {unknown[p] for p, row in pivots.items() if len(row) == 1}


def _axpy(target: dict[int, int], source: Mapping[int, int], factor: int) -> None:
    for j, v in source.items():
        value = (target.get(j, 0) + factor * v) % _PRIME
        if value:
            target[j] = value
        else:
            target.pop(j, None)


__all__ = ["DEFAULT_THRESHOLD", "Cell", "Equation", "Mark", "Policy", "Result", "disclosed", "suppress"]
