"""bench/: the exact LRU yardstick and the target checks, and every script's smoke run (`--quick`) printing its table.

No figure is asserted here: benchmarks measure, tests check that they run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from lru_sim import simulate_lru, zipf_sequence  # noqa: E402
from run_all import SCRIPTS, targets  # noqa: E402


def test_lru_hits_misses_and_evictions_by_recency():
    result = simulate_lru(["a", "b", "a", "c", "b", "a"], capacity=2)
    # a b | a hit | c evicts b | b evicts a | a evicts c
    assert (result.hits, result.misses, result.evictions, result.max_resident) == (1, 5, 3, 2)


def test_lru_weights_and_oversized_items():
    result = simulate_lru(["big", "x", "y", "x"], capacity=2, weight=lambda k: 3 if k == "big" else 1)
    assert (result.hits, result.misses, result.evictions) == (1, 3, 0)


def test_zipf_sequence_is_seeded_and_skewed():
    first = zipf_sequence(100, 1.1, 2000, seed=7)
    assert first == zipf_sequence(100, 1.1, 2000, seed=7)
    assert first.count(0) > first.count(50) and set(first) <= set(range(100))


def _results(added_grpc_ms: float, loads: int) -> dict:
    path = {"p50_ms": 1.0, "rps": 100.0}
    return {
        "router_overhead": {"grpc emulator": {"p50_ms": 1.0 + added_grpc_ms, "rps": 90.0}, "grpc direct": path,
                            "rest emulator": {"p50_ms": 2.0, "rps": 70.0}, "rest direct": path},
        "cold_start": {"runtime_running": [{"total_ms": 150.0, "pull_ms": 40.0, "load_ms": 60.0}],
                       "herd": {"requests": 50, "errors": 0, "adapter_loads": loads, "runtime_log_loads": loads,
                                "metric_loads": float(loads)}},
        "memory": {"rounds": [{"idle": 100e6, "isvcs": 160e6}]},
    }


def _verdicts(results: dict) -> dict[str, str]:
    return {line.split("|")[1].strip(): line.split("|")[3].strip() for line in targets(results).splitlines()[2:]}


def test_targets_say_which_hold():
    lines = _verdicts(_results(added_grpc_ms=0.4, loads=1))
    assert lines["GRPC added latency p50 ≤ 1.0 ms"] == "yes"
    assert lines["REST added latency p50 ≤ 1.5 ms"] == "yes"
    assert lines["REST throughput c=16 ≥ 0.8 x direct"] == "NO"
    assert lines["cold start ≤ 100 ms above pull + load (median, runtime running)"] == "yes"
    assert lines["50 concurrent first requests: exactly one load, no error"] == "yes"
    assert lines["router RSS with 1,000 InferenceServices ≤ 150 MB"] == "NO"
    lines = _verdicts(_results(added_grpc_ms=1.5, loads=2))
    assert lines["GRPC added latency p50 ≤ 1.0 ms"] == "NO"
    assert lines["50 concurrent first requests: exactly one load, no error"] == "NO"


@pytest.mark.integration
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_script_quick_run_prints_its_table(script: str):
    run = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), "--quick"], cwd=BENCH.parent,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("## "), run.stdout
    assert "Machine: " in run.stdout and "load average" in run.stdout
    assert "\n|" in run.stdout  # a markdown table
