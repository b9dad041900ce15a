"""Timing helpers the benchmarks share: medians of wall time, and two runners timed alternately
so that both see the same machine state."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def seconds(fn: Callable[[], object]) -> float:
    """Wall seconds of one `fn()` (which must block until its result is ready)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of `fn()` over `repeats` runs."""
    return statistics.median(seconds(fn) for _ in range(repeats))


def alternate(run_a: Callable[[], object], run_b: Callable[[], object], repeats: int,
              warmup: int = 2) -> tuple[float, float]:
    """Median seconds of `run_a` and `run_b`, run alternately `repeats` times after `warmup`
    runs of each."""
    for _ in range(warmup):
        run_a()
        run_b()
    a, b = [], []
    for _ in range(repeats):
        a.append(seconds(run_a))
        b.append(seconds(run_b))
    return statistics.median(a), statistics.median(b)
