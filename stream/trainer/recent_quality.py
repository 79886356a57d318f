"""Online ranking quality over the most recent N ranked events (for gauges)."""

from __future__ import annotations

from collections import deque

from model.ranking_metrics import RankingSums


class RecentQuality:
    """Step sums kept until the newer ones cover ``window_events`` ranked events.

    The window holds whole steps: it may exceed N by one step's events, which keeps
    the means exact sums of real steps rather than interpolations.
    """

    def __init__(self, window_events: int) -> None:
        self.window_events = window_events
        self._steps: deque[RankingSums] = deque()
        self._total = RankingSums()

    def add(self, sums: RankingSums) -> None:
        if sums.count == 0:
            return
        self._steps.append(sums)
        self._total.merge(sums)
        while self._steps and self._total.count - self._steps[0].count >= self.window_events:
            oldest = self._steps.popleft()
            self._total = _minus(self._total, oldest)

    @property
    def count(self) -> int:
        return self._total.count

    def means(self) -> dict[str, float]:
        return self._total.means()

    def summary(self) -> dict[str, float]:
        """The means and how many ranked events they cover (a checkpoint's quality)."""
        return self.means() | {"ranked_events": float(self.count)}


def _minus(total: RankingSums, part: RankingSums) -> RankingSums:
    return RankingSums(
        count=total.count - part.count,
        hits10=total.hits10 - part.hits10,
        hits20=total.hits20 - part.hits20,
        ndcg10=total.ndcg10 - part.ndcg10,
        ndcg20=total.ndcg20 - part.ndcg20,
        mrr10=total.mrr10 - part.mrr10,
        mrr20=total.mrr20 - part.mrr20,
    )
