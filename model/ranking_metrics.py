"""Online ranking metrics from the 0-based rank of each target (None: not ranked)."""

from __future__ import annotations

import math
from dataclasses import dataclass

CUTOFFS = (10, 20)


@dataclass
class RankingSums:
    """Sums, so batches and windows add up; divide by ``count`` for the means."""

    count: int = 0
    hits10: float = 0.0
    hits20: float = 0.0
    ndcg10: float = 0.0
    ndcg20: float = 0.0
    mrr10: float = 0.0
    mrr20: float = 0.0  # the session-recommendation literature's measure (ADER: MRR@20)

    def add(self, rank: int | None) -> None:
        self.count += 1
        if rank is None:
            return
        gain = 1.0 / math.log2(rank + 2)
        if rank < 10:
            self.hits10 += 1
            self.ndcg10 += gain
            self.mrr10 += 1.0 / (rank + 1)
        if rank < 20:
            self.hits20 += 1
            self.ndcg20 += gain
            self.mrr20 += 1.0 / (rank + 1)

    def merge(self, other: RankingSums) -> None:
        self.count += other.count
        self.hits10 += other.hits10
        self.hits20 += other.hits20
        self.ndcg10 += other.ndcg10
        self.ndcg20 += other.ndcg20
        self.mrr10 += other.mrr10
        self.mrr20 += other.mrr20

    def means(self) -> dict[str, float]:
        n = max(self.count, 1)
        return {
            "hr@10": self.hits10 / n,
            "ndcg@10": self.ndcg10 / n,
            "mrr@10": self.mrr10 / n,
            "hr@20": self.hits20 / n,
            "ndcg@20": self.ndcg20 / n,
            "mrr@20": self.mrr20 / n,
        }


# Target items by age in events (this one included): new items are where content helps.
AGE_BUCKETS = (("1", 1), ("2-5", 5), ("6-20", 20), ("21+", None))


def age_bucket(age: int) -> str:
    for name, upper in AGE_BUCKETS:
        if upper is None or age <= upper:
            return name
    return AGE_BUCKETS[-1][0]
