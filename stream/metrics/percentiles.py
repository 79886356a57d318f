"""Nearest-rank percentiles of measured latencies (the demo summary and the benchmarks)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The smallest value with at least ``q`` of the values at or below it; NaN when empty.

    ``ordered`` must be ascending.
    """
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
