"""How many sequences a step may learn so that training stays within its time budget.

On a GPU, or a quiet stream, the limit is above any batch and everything is learned.
When a CPU cannot keep up, the limit caps each step's training so recommendations
keep flowing at the stream's pace; what is left out still reaches the replay buffer.

A step costs a fixed part (optimiser, replay, Python) plus a part per sequence, so
the limit comes from a least-squares line through recent (sequences, seconds)
pairs; with too little spread in batch sizes it falls back to the mean cost per
sequence, which overestimates and so errs on the safe side.
"""

from __future__ import annotations

import math
from collections import deque


class TrainBudget:
    def __init__(self, budget_s: float | None, history: int = 64, floor: int = 8) -> None:
        self.budget_s = budget_s
        self.floor = floor  # always learn something, or the model would freeze under load
        self._points: deque[tuple[int, float]] = deque(maxlen=history)

    def observe(self, train_s: float, sequences: int) -> None:
        if sequences > 0 and train_s > 0:
            self._points.append((sequences, train_s))

    def cost_model(self) -> tuple[float, float] | None:
        """(fixed seconds, seconds per sequence), or None before any step."""
        if not self._points:
            return None
        n = len(self._points)
        mean_x = sum(x for x, _ in self._points) / n
        mean_y = sum(y for _, y in self._points) / n
        var_x = sum((x - mean_x) ** 2 for x, _ in self._points)
        if n >= 4 and var_x > 0:
            slope = sum((x - mean_x) * (y - mean_y) for x, y in self._points) / var_x
            if slope > 0:
                return max(0.0, mean_y - slope * mean_x), slope
        return 0.0, mean_y / mean_x

    def limit(self) -> int | None:
        """None: no bound (no budget, or nothing measured yet)."""
        model = self.cost_model()
        if self.budget_s is None or model is None:
            return None
        fixed, per_sequence = model
        return max(self.floor, math.floor((self.budget_s - fixed) / per_sequence))
