"""Leave-one-out evaluation (as in SASRec, Kang & McAuley 2018): per user, the last item
is the test target, the one before it the validation target, the rest is training data.

Two rankings of each target: against every item in the catalogue ("full"), and against
100 items sampled uniformly from those the user never interacted with ("sampled", the
SASRec paper's protocol, whose published figures are for Amazon Beauty).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from model.contract import UserSequence
from model.offline_training import fit, score_items
from model.ranking_metrics import RankingSums
from model.transformer_learner import TransformerLearner


@dataclass
class SplitMetrics:
    full: RankingSums = field(default_factory=RankingSums)
    sampled: RankingSums = field(default_factory=RankingSums)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {"full": self.full.means(), "sampled_100": self.sampled.means()}


def _sequence(user: str, items: Sequence[str], action: str) -> UserSequence:
    return UserSequence(
        user, list(items), [action] * len(items), [float(i) for i in range(len(items))], 1
    )


def evaluate_split(
    learner: TransformerLearner,
    users: Mapping[str, Sequence[str]],
    drop_last: int,
    action: str,
    negatives: int = 100,
    seed: int = 0,
    batch_size: int = 256,
) -> SplitMetrics:
    """Rank item[-1 - drop_last] after the items before it, for every user."""
    rng = random.Random(seed)
    catalogue = sorted({i for items in users.values() for i in items})
    metrics = SplitMetrics()
    batch: list[UserSequence] = []
    candidates: list[list[str]] = []

    def flush() -> None:
        metrics.full.merge(learner.evaluate(batch).overall)
        histories = [
            UserSequence(s.user_id, s.items[:-1], s.actions[:-1], s.ts[:-1]) for s in batch
        ]
        for scores in score_items(learner, histories, candidates):
            target = scores[0]
            metrics.sampled.add(
                sum(s > target for s in scores[1:]) if target != float("-inf") else None
            )
        batch.clear()
        candidates.clear()

    for user, items in users.items():
        end = len(items) - drop_last
        if end < 2:
            continue
        seen = set(items)
        sampled: list[str] = []
        while len(sampled) < negatives:
            item = catalogue[rng.randrange(len(catalogue))]
            if item not in seen:
                sampled.append(item)
        batch.append(_sequence(user, items[:end], action))
        candidates.append([items[end - 1], *sampled])
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return metrics


def leave_one_out(
    learner: TransformerLearner,
    users: Mapping[str, Sequence[str]],
    epochs: int,
    batch_size: int,
    action: str = "view",
    on_epoch: Callable[[int, SplitMetrics, float], None] = lambda _e, _m, _s: None,
) -> tuple[SplitMetrics, SplitMetrics, float, int]:
    """Train on all but the last two items per user; returns (valid, test, train s, best epoch).

    The test metrics are those of the epoch with the best validation NDCG@10 (full).
    """
    width = learner.config.model.max_len
    # The catalogue is known offline: every item has a row, even one seen only in a
    # held-out position (it keeps its random initial vector), as in SASRec.
    learner.add_items(sorted({i for items in users.values() for i in items}), now=0.0)
    train = []
    for user, items in users.items():
        head = list(items[:-2])
        for end in range(len(head), 1, -width):
            chunk = head[max(0, end - width) : end]
            train.append(
                UserSequence(
                    user, chunk, [action] * len(chunk), [float(i) for i in range(len(chunk))]
                )
            )
    best: tuple[float, SplitMetrics, SplitMetrics, int] | None = None
    train_s = 0.0
    for epoch in range(1, epochs + 1):
        train_s += fit(learner, train, 1, batch_size)
        started = time.perf_counter()
        valid = evaluate_split(learner, users, drop_last=1, action=action)
        on_epoch(epoch, valid, time.perf_counter() - started)
        score = valid.full.means()["ndcg@10"]
        if best is None or score > best[0]:
            test = evaluate_split(learner, users, drop_last=0, action=action)
            best = (score, valid, test, epoch)
    assert best is not None
    return best[1], best[2], train_s, best[3]
