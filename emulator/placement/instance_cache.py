"""One runtime instance's model cache: ModelMesh's weighted LRU accounting (8 KiB units, unload reserve).

Pure bookkeeping, no I/O: placement asks it where space is and which models to evict, then does the
loading and unloading. Entries being loaded are pinned: they are never chosen for eviction. Making room for an
entry never evicts one used more recently than it (a proactive load carries an aged last-use time): a loaded
entry that still does not fit is then the least recently used one and is evicted itself, as in ModelMesh's LRU map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["UNIT_SIZE", "CacheEntry", "InstanceCache", "units"]

UNIT_SIZE = 8192


def units(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / UNIT_SIZE))


@dataclass
class CacheEntry:
    model_id: str
    weight: int
    """Units."""
    last_used: float
    """Epoch seconds."""
    pinned: bool = False


class InstanceCache:
    def __init__(self, capacity_bytes: int, *, loading_threads: int, default_model_size: int):
        self.total_units = capacity_bytes // UNIT_SIZE
        default_units = units(default_model_size)
        divisor = 2 if loading_threads <= 2 else 4
        # Runtimes that need explicit unloads keep space for unloads in progress (ModelCacheUnloadBufManager).
        self.unload_reserve_units = max(
            min(loading_threads * default_units // divisor, self.total_units // 10), self.total_units // 100
        )
        self.capacity_units = self.total_units - self.unload_reserve_units
        self.min_space_units = max(default_units, min(default_units * loading_threads, self.total_units // 20))
        self._entries: dict[str, CacheEntry] = {}
        self.used_units = 0

    @property
    def capacity_bytes(self) -> int:
        """Effective capacity (without the unload reserve): `modelmesh_instance_capacity_bytes`."""
        return self.capacity_units * UNIT_SIZE

    @property
    def used_bytes(self) -> int:
        return self.used_units * UNIT_SIZE

    @property
    def remaining_units(self) -> int:
        return self.capacity_units - self.used_units

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[CacheEntry]:
        """Least recently used first."""
        return sorted(self._entries.values(), key=lambda entry: entry.last_used)

    def is_full(self) -> bool:
        return self.remaining_units < self.min_space_units

    def oldest_last_used(self) -> float | None:
        unpinned = [entry.last_used for entry in self._entries.values() if not entry.pinned]
        return min(unpinned) if unpinned else None

    def fits(self, weight: int) -> bool:
        return weight <= self.capacity_units

    def would_evict_newer(self, weight: int, last_used: float) -> bool:
        """True when making room for an entry this old would evict more recently used ones (cache fall-through).
        An entry larger than the whole capacity is not a fall-through: its load fails on size instead."""
        if not self.fits(weight):
            return False
        need = weight - self.remaining_units
        for entry in self.entries():
            if need <= 0:
                return False
            if entry.pinned:
                continue
            if entry.last_used > last_used:
                return True
            need -= entry.weight
        return need > 0

    def insert(self, model_id: str, weight: int, last_used: float) -> list[str]:
        """Add a pinned (loading) entry; returns the ids evicted to make room, least recently used first."""
        self._entries[model_id] = CacheEntry(model_id, weight, last_used, pinned=True)
        self.used_units += weight
        return self._evict_for(model_id)

    def resize(self, model_id: str, weight: int, *, loading: bool = False) -> list[str]:
        """Set an entry's real size once loaded and unpin it (`loading`: a new prediction, still pinned);
        returns the ids evicted."""
        entry = self._entries[model_id]
        self.used_units += weight - entry.weight
        entry.weight, entry.pinned = weight, loading
        return self._evict_for(model_id)

    def touch(self, model_id: str, now: float) -> None:
        entry = self._entries.get(model_id)
        if entry is not None and now > entry.last_used:
            entry.last_used = now

    def remove(self, model_id: str) -> None:
        entry = self._entries.pop(model_id, None)
        if entry is not None:
            self.used_units -= entry.weight

    def _evict_for(self, model_id: str) -> list[str]:
        """Evict entries older than `model_id`'s, least recently used first, until everything fits.

        Entries used more recently are never evicted for it: if it is loaded and still does not fit, it is the
        least recently used entry and goes itself. Loads in progress (pinned; ModelMesh would abort them) that
        over-commit the cache settle it when they reach their own size: while an older one is pending, `model_id`
        stays; once none is pending, over-commitment left by earlier ones is evicted in LRU order."""
        evicted: list[str] = []
        older_loading = passed_subject = False
        for entry in self.entries():
            if self.used_units <= self.capacity_units:
                break
            if entry.model_id == model_id:
                if entry.pinned or older_loading:
                    break
                passed_subject = True
            elif entry.pinned:
                older_loading = older_loading or not passed_subject
                continue
            elif passed_subject and any(other.pinned for other in self._entries.values()):
                break
            self.remove(entry.model_id)
            evicted.append(entry.model_id)
        return evicted
