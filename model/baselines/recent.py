"""The user's own most recent distinct items, filled up with co-occurrence of the last
item and then popularity. Repeat consumption is strong in e-commerce: this is often
the baseline to beat."""

from __future__ import annotations

from model.baselines.cooccurrence import CooccurrenceBaseline
from model.contract import UserSequence


class RecentItemsBaseline(CooccurrenceBaseline):
    name = "recent"

    def ranked(self, history: UserSequence, depth: int) -> list[tuple[str, float]]:
        ranked: list[tuple[str, float]] = []
        seen: set[str] = set()
        for age, item in enumerate(reversed(history.items)):
            if item not in seen:
                ranked.append((item, 1e12 - age))
                seen.add(item)
                if len(ranked) == depth:
                    return ranked
        if history.items:
            for item, score in self.neighbours(history.items[-1], depth):
                if item not in seen and len(ranked) < depth:
                    ranked.append((item, score))
                    seen.add(item)
        return self.fill(ranked, depth)
