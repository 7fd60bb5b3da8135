"""ModelMesh's cache accounting: units, unload reserve, full threshold, LRU eviction, fall-through."""

from __future__ import annotations

from emulator.instance_cache import UNIT_SIZE, InstanceCache, units

MIB = 1024 * 1024


def builtin_mlserver_cache() -> InstanceCache:
    # 1Gi request - 128 MiB memBufferBytes, LOADING_CONCURRENCY 1, 1 MB default size
    return InstanceCache(1073741824 - 134217728, loading_threads=1, default_model_size=1_000_000)


def test_worked_example_of_the_builtin_mlserver_runtime() -> None:
    cache = builtin_mlserver_cache()

    assert cache.total_units == 114688
    assert units(1_000_000) == 123
    assert cache.unload_reserve_units == 1146
    assert cache.capacity_units == 113542
    assert cache.min_space_units == 123
    assert cache.capacity_bytes == 113542 * UNIT_SIZE


def test_least_recently_used_is_evicted_and_loaded_bytes_stay_within_capacity() -> None:
    cache = InstanceCache(4 * MIB, loading_threads=1, default_model_size=1_000_000)
    model = units(MIB)
    for i, name in enumerate("abc"):
        cache.insert(name, model, last_used=100 + i)
        cache.resize(name, model)
    cache.touch("a", now=200)

    evicted = cache.insert("d", model, last_used=300)

    assert evicted == ["b"]
    assert cache.used_units <= cache.capacity_units
    assert [entry.model_id for entry in cache.entries()] == ["c", "a", "d"]


def test_loading_entries_are_never_evicted() -> None:
    cache = InstanceCache(3 * MIB, loading_threads=1, default_model_size=1_000_000)
    cache.insert("loading", units(MIB), last_used=1)

    evicted = cache.insert("new", units(2 * MIB), last_used=2)

    assert evicted == []
    assert "loading" in cache


def test_full_means_less_free_than_one_default_model() -> None:
    cache = InstanceCache(4 * MIB, loading_threads=1, default_model_size=1_000_000)
    cache.insert("a", cache.capacity_units - 100, last_used=1)

    assert cache.is_full()
    cache.remove("a")
    assert not cache.is_full()


def test_fall_through_when_only_newer_entries_could_make_room() -> None:
    cache = InstanceCache(4 * MIB, loading_threads=1, default_model_size=1_000_000)
    cache.insert("recent", cache.capacity_units - 10, last_used=1000)
    cache.resize("recent", cache.capacity_units - 10)

    assert cache.would_evict_newer(units(MIB), last_used=500)
    assert not cache.would_evict_newer(units(MIB), last_used=2000)
    assert not cache.would_evict_newer(5, last_used=500)


def test_a_model_larger_than_capacity_does_not_fit() -> None:
    cache = InstanceCache(4 * MIB, loading_threads=1, default_model_size=1_000_000)

    assert not cache.fits(units(5 * MIB))
    assert cache.fits(units(MIB))


def test_an_entry_too_big_for_any_cache_is_not_a_fall_through() -> None:
    cache = InstanceCache(MIB // 2, loading_threads=1, default_model_size=1_000_000)

    assert not cache.would_evict_newer(units(1_000_000), last_used=0)
