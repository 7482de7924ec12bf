"""Small timing helpers: a block of calls timed with perf_counter, and block-size calibration."""

from __future__ import annotations

import time
from collections.abc import Callable


def seconds_per_call(function: Callable[[], object], calls: int) -> float:
    """Wall seconds per call of `function`, timed over one block of `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def calls_for(function: Callable[[], object], block_seconds: float, most: int = 100_000) -> int:
    """How many calls of `function` fill about `block_seconds` (at least one).

    One untimed call first (it may trace or fault pages in), then one timed call as the
    estimate; good enough to size blocks, not a measurement.
    """
    function()
    estimate = seconds_per_call(function, 1)
    return max(1, min(most, int(block_seconds / max(estimate, 1e-9))))


class Stopwatch:
    """Seconds since construction (a section's wall time)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        """Seconds since start."""
        return time.perf_counter() - self.start
