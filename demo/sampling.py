"""Small deterministic helpers: exact random splits of a total, money in cents, weighted choices.

Pure; every choice comes from the caller's ``random.Random``, so a seeded
generator stays byte-identical. :func:`split` is how a figure becomes events:
its parts always sum to exactly the total.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from hub.errors import ConfigError


def split(rng: random.Random, total: int, parts: int, minimum: int = 0, *, skew: int = 1, what: str = "") -> list[int]:
    """``parts`` integers >= ``minimum`` summing to exactly ``total``, randomly spread."""
    rest = total - minimum * parts
    if parts <= 0 or rest < 0:
        raise ConfigError(f"demo data: cannot split {total} {what} into {parts} parts of at least {minimum}")
    weights = [rng.randrange(500, 1500) ** skew for _ in range(parts)]
    wsum = sum(weights)
    shares = [minimum + rest * w // wsum for w in weights]
    for _ in range(total - sum(shares)):
        shares[rng.randrange(parts)] += 1
    return shares


def split_money(rng: random.Random, total_cents: int, parts: int, *, skew: int = 1, what: str = "") -> list[int]:
    """Amounts in cents summing exactly to ``total_cents``, in round steps (1000, 100, 1 yuan) when possible."""
    for step in (100_000, 10_000, 100, 1):
        if total_cents % step == 0 and total_cents // step >= 4 * parts:
            units = total_cents // step
            return [u * step for u in split(rng, units, parts, max(1, units // (4 * parts)), skew=skew, what=what)]
    return split(rng, total_cents, parts, 1, skew=skew, what=what)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def pick(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    """A weighted choice from ``(value, weight)`` pairs."""
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def spread(rng: random.Random, values: Sequence[str], n: int) -> list[str]:
    """``n`` values, each of ``values`` at least once when ``n`` allows, shuffled."""
    counts = split(rng, n, len(values), 1 if n >= len(values) else 0, what="items")
    out = [v for v, c in zip(values, counts, strict=True) for _ in range(c)]
    rng.shuffle(out)
    return out


__all__ = ["money", "pick", "split", "split_money", "spread"]
