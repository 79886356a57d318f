"""When to roll the model back: online quality collapsing against its own history.

After each step the recent NDCG@10 (the last ``recent_events`` ranked events) is
compared with the trailing average (the last ``trailing_events``). Only once both
windows are full does a fall below ``fraction`` x trailing count as a collapse; a
checkpoint taken while quality is healthy is a good one to return to.
"""

from __future__ import annotations

from model.ranking_metrics import RankingSums
from stream.trainer.recent_quality import RecentQuality


class QualityWatch:
    def __init__(self, fraction: float | None, recent_events: int, trailing_events: int) -> None:
        self.fraction = fraction
        self.recent_events = recent_events
        self.trailing_events = max(trailing_events, recent_events)
        self.reset()

    def reset(self) -> None:
        self.recent = RecentQuality(self.recent_events)
        self.trailing = RecentQuality(self.trailing_events)

    def add(self, sums: RankingSums) -> None:
        self.recent.add(sums)
        self.trailing.add(sums)

    @property
    def ready(self) -> bool:
        return self.recent.count >= self.recent_events and self.trailing.count >= (
            self.trailing_events
        )

    def collapsed(self) -> bool:
        if self.fraction is None or not self.ready:
            return False
        trailing = self.trailing.means()["ndcg@10"]
        return trailing > 0 and self.recent.means()["ndcg@10"] < self.fraction * trailing

    def healthy(self) -> bool:
        """Not collapsed (also before the windows are full: nothing to compare yet)."""
        return not self.collapsed()
