"""ModelMesh's cache accounting: units, unload reserve, full threshold, LRU eviction, fall-through."""

from __future__ import annotations

from emulator.placement.instance_cache import UNIT_SIZE, InstanceCache, units

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


def test_proactive_loads_finishing_after_a_request_never_evict_the_requested_model() -> None:
    # Room for two; four models applied at once are reserved at a small predicted size, each aged by an hour
    # from its registration, and grow to their real size once loaded, one after the other.
    cache = InstanceCache(2 * MIB + 256 * 1024, loading_threads=1, default_model_size=100_000)
    real = units(MIB) + 1  # two fit, but not with the other two's reservations
    for offset, name in enumerate("abcd"):
        cache.insert(name, units(100_000), last_used=1000.0 + offset)
    cache.resize("a", real)
    cache.touch("a", 4600.0)  # a request for "a", answered while the others are still loading

    evicted = [cache.resize(name, real) for name in "bcd"]

    assert evicted == [["b"], [], ["c"]]
    assert {entry.model_id for entry in cache.entries()} == {"a", "d"}
    assert cache.used_units <= cache.capacity_units


def test_a_loaded_proactive_entry_older_than_everything_else_evicts_itself() -> None:
    cache = InstanceCache(2 * MIB + 256 * 1024, loading_threads=1, default_model_size=100_000)
    real = units(MIB)
    for name, last_used in (("used", 5000.0), ("also-used", 4000.0)):
        cache.insert(name, real, last_used=last_used)
        cache.resize(name, real)
    cache.insert("proactive", units(100_000), last_used=1000.0)

    evicted = cache.resize("proactive", real)

    assert evicted == ["proactive"]
    assert {entry.model_id for entry in cache.entries()} == {"used", "also-used"}
    assert cache.used_units <= cache.capacity_units


def test_a_loaded_proactive_entry_evicts_older_entries_before_itself() -> None:
    cache = InstanceCache(2 * MIB + 256 * 1024, loading_threads=1, default_model_size=100_000)
    real = units(MIB)
    cache.insert("old", real, last_used=10)
    cache.resize("old", real)
    cache.insert("recent", real, last_used=5000)
    cache.resize("recent", real)
    cache.insert("proactive", units(100_000), last_used=1000)

    evicted = cache.resize("proactive", real)

    assert evicted == ["old"]
    assert [entry.model_id for entry in cache.entries()] == ["proactive", "recent"]


def test_loads_in_progress_over_committing_the_cache_do_not_evict_a_loaded_entry() -> None:
    cache = InstanceCache(2 * MIB + 256 * 1024, loading_threads=1, default_model_size=100_000)
    real = units(MIB)
    cache.insert("requested", units(100_000), last_used=5000)
    cache.insert("loading", 2 * real, last_used=1000)

    evicted = cache.resize("requested", real)

    assert evicted == []
    assert "requested" in cache


def test_loads_finishing_newest_first_leave_the_cache_within_capacity_and_the_requested_model_in_it() -> None:
    # The same four, but the loads finish most recently used first (the loading queue's order)
    cache = InstanceCache(2 * MIB + 256 * 1024, loading_threads=1, default_model_size=100_000)
    real = units(MIB) + 1
    for offset, name in enumerate("abcd"):
        cache.insert(name, units(100_000), last_used=1000.0 + offset)
    cache.resize("a", real)
    cache.touch("a", 4600.0)

    evicted = [cache.resize(name, real) for name in "dcb"]

    assert evicted == [[], [], ["b", "c"]]
    assert {entry.model_id for entry in cache.entries()} == {"a", "d"}
    assert cache.used_units <= cache.capacity_units


def test_a_load_in_progress_never_evicts_a_more_recently_used_entry() -> None:
    cache = InstanceCache(2 * MIB + 256 * 1024, loading_threads=1, default_model_size=100_000)
    cache.insert("recent", units(2 * MIB), last_used=5000.0)
    cache.resize("recent", units(2 * MIB))

    evicted = cache.insert("proactive", units(MIB), last_used=1000.0)

    assert evicted == []
    assert "recent" in cache
