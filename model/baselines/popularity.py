"""Recent popularity: decayed interaction counts, with a half-life in seconds of event
time (popularity) or in events of any item (trending)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from model.baselines.base import RankedListBaseline
from model.contract import UserSequence


class PopularityBaseline(RankedListBaseline):
    name = "popularity"

    def __init__(self, half_life_s: float = 86_400.0) -> None:
        super().__init__()
        self.half_life_s = half_life_s
        self.index: dict[str, int] = {}
        self.items: list[str] = []
        # log of sum_i 2^(t_i / half_life): decayed counts compared at any common time.
        self.log_scores = np.full(1_024, -np.inf)
        self._top: list[tuple[str, float]] | None = None

    def update(self, sequence: UserSequence) -> None:
        start = len(sequence.items) - sequence.new_count
        for item, ts in zip(sequence.items[start:], sequence.ts[start:], strict=True):
            row = self.index.get(item)
            if row is None:
                row = self.index[item] = len(self.items)
                self.items.append(item)
                if row >= self.log_scores.shape[0]:
                    grown = np.full(self.log_scores.shape[0] * 2, -np.inf)
                    grown[: self.log_scores.shape[0]] = self.log_scores
                    self.log_scores = grown
            weight = self._half_lives(ts) * math.log(2)
            self.log_scores[row] = np.logaddexp(self.log_scores[row], weight)
        self._top = None

    def _half_lives(self, ts: float) -> float:
        """The clock of the event just counted, in half-lives (called once per event)."""
        return ts / self.half_life_s

    def top(self, depth: int) -> list[tuple[str, float]]:
        if self._top is None or len(self._top) < min(depth, len(self.items)):
            n = len(self.items)
            depth = min(max(depth, 64), n)
            if depth == 0:
                return []
            scores = self.log_scores[:n]
            best = np.argpartition(-scores, depth - 1)[:depth]
            best = best[np.argsort(-scores[best], kind="stable")]
            self._top = [(self.items[i], float(scores[i])) for i in best]
        return self._top

    def ranked(self, history: UserSequence, depth: int) -> list[tuple[str, float]]:
        return self.top(depth)[:depth]

    def state(self) -> dict[str, Any]:
        n = len(self.items)
        return {"half_life_s": self.half_life_s, "items": self.items,
                "log_scores": [float(x) for x in self.log_scores[:n]]}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.half_life_s = float(state["half_life_s"])
        self.items = list(state["items"])
        self.index = {item: i for i, item in enumerate(self.items)}
        self.log_scores = np.full(max(1_024, len(self.items)), -np.inf)
        self.log_scores[: len(self.items)] = np.array(state["log_scores"], dtype=float)
        self._top = None


class TrendingBaseline(PopularityBaseline):
    """Popularity over the last events: the half-life counts events of any item, not
    seconds, so a stream decays as it flows whatever its timestamps (a file without them
    has line numbers). The yardstick with the memory of the transformer's popularity
    prior (``model.popularity_half_life``, in sightings)."""

    name = "trending"

    def __init__(self, half_life_events: float = 1_000.0) -> None:
        super().__init__()
        self.half_life_events = half_life_events
        self.events = 0

    def _half_lives(self, ts: float) -> float:
        self.events += 1  # this clock is the event count: counting an event advances it
        return self.events / self.half_life_events

    def state(self) -> dict[str, Any]:
        return {**super().state(), "half_life_events": self.half_life_events,
                "events": self.events}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        self.half_life_events = float(state["half_life_events"])
        self.events = int(state["events"])
