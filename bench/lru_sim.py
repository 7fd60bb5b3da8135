"""An exact LRU cache simulation and a seeded Zipf request sequence: the yardstick for bench/churn.py.

`simulate_lru` replays a request sequence against a cache of `capacity` weight units: a request for a resident
model is a hit and makes it most recently used; a miss inserts the model and evicts least recently used models
until the total weight fits. Pure and deterministic.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["LruResult", "simulate_lru", "zipf_sequence"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class LruResult:
    requests: int
    hits: int
    misses: int
    evictions: int
    max_resident: int

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0


def simulate_lru(sequence: Sequence[K], capacity: int, weight: Callable[[K], int] = lambda _: 1) -> LruResult:
    """Replay `sequence` on an empty LRU cache holding at most `capacity` weight units."""
    if capacity <= 0:
        raise ValueError("capacity must be positive")
    cache: OrderedDict[K, int] = OrderedDict()
    used = hits = misses = evictions = max_resident = 0
    for key in sequence:
        if key in cache:
            cache.move_to_end(key)
            hits += 1
            continue
        misses += 1
        size = weight(key)
        if size > capacity:
            continue  # can never be resident: a miss every time
        cache[key] = size
        used += size
        while used > capacity:
            _, evicted = cache.popitem(last=False)
            used -= evicted
            evictions += 1
        max_resident = max(max_resident, len(cache))
    return LruResult(len(sequence), hits, misses, evictions, max_resident)


def zipf_sequence(n_items: int, exponent: float, count: int, seed: int = 1) -> list[int]:
    """`count` draws of item ranks 0..n_items-1 with P(k) ∝ 1/(k+1)^exponent (a bounded Zipf law)."""
    weights = [1 / (rank + 1) ** exponent for rank in range(n_items)]
    return random.Random(seed).choices(range(n_items), weights=weights, k=count)
