"""Percentiles, medians over rounds, and the markdown tables every benchmark prints."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence

__all__ = ["fmt", "load_average", "machine_line", "median", "percentile", "ratio", "table"]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    try:
        with open("/proc/loadavg") as loadavg:
            return " ".join(loadavg.read().split()[:3])
    except OSError:
        return "unknown"


_LOAD_AT_START = load_average()  # when the benchmark script imported this module, i.e. started


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def fmt(value: float | int | str | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers right-aligned."""
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]  # type: ignore[arg-type]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [bool(cells) and all(not isinstance(row[i], str) for row in rows) for i in range(len(headers))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
             "|" + "|".join(("-" * (w + 1) + ":") if n else ("-" * (w + 2))
                            for w, n in zip(widths, numeric, strict=True)) + "|"]
    for row in cells:
        lines.append("| " + " | ".join(c.rjust(w) if n else c.ljust(w)
                                       for c, w, n in zip(row, widths, numeric, strict=True)) + " |")
    return "\n".join(lines)


def machine_line() -> str:
    """CPU model, core count, memory, Python, and the load average when the script started and now."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    mem_gib = math.nan
    try:
        with open("/proc/meminfo") as info:
            kib = next(int(line.split()[1]) for line in info if line.startswith("MemTotal"))
            mem_gib = kib / 2**20
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; load average (1/5/15 min) {_LOAD_AT_START} at start, "
            f"{load_average()} at end")
