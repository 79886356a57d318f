"""Item-to-item co-occurrence, updated incrementally; recommends from the last item.

Pairs within ``distance`` steps in a user's sequence count 1/d (a follows b counts
for b -> a). Lists are filled up with recent popularity.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Any

from model.baselines.base import RankedListBaseline
from model.baselines.popularity import PopularityBaseline
from model.contract import UserSequence


class CooccurrenceBaseline(RankedListBaseline):
    name = "cooc"

    def __init__(self, distance: int = 3) -> None:
        super().__init__()
        self.distance = distance
        self.pairs: defaultdict[str, defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self.popularity = PopularityBaseline()

    def update(self, sequence: UserSequence) -> None:
        items = sequence.items
        for i in range(len(items) - sequence.new_count, len(items)):
            for d in range(1, self.distance + 1):
                if i - d < 0:
                    break
                if items[i - d] != items[i]:
                    self.pairs[items[i - d]][items[i]] += 1.0 / d
        self.popularity.update(sequence)

    def neighbours(self, item: str, depth: int) -> list[tuple[str, float]]:
        weights = self.pairs.get(item)
        if not weights:
            return []
        return heapq.nlargest(depth, weights.items(), key=lambda pair: (pair[1], pair[0]))

    def fill(self, ranked: list[tuple[str, float]], depth: int) -> list[tuple[str, float]]:
        seen = {item for item, _ in ranked}
        for item, score in self.popularity.top(depth + len(ranked)):
            if len(ranked) >= depth:
                break
            if item not in seen:
                ranked.append((item, score - 1e9))  # below every co-occurrence score
                seen.add(item)
        return ranked

    def ranked(self, history: UserSequence, depth: int) -> list[tuple[str, float]]:
        ranked = self.neighbours(history.items[-1], depth) if history.items else []
        return self.fill(ranked, depth)

    def state(self) -> dict[str, Any]:
        return {"distance": self.distance, "pairs": {a: dict(c) for a, c in self.pairs.items()},
                "popularity": self.popularity.state()}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.distance = int(state["distance"])
        self.pairs = defaultdict(lambda: defaultdict(float))
        for a, weights in state["pairs"].items():
            self.pairs[a].update({b: float(w) for b, w in weights.items()})
        self.popularity.restore(state["popularity"])
