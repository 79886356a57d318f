"""Shared test-then-train loop for baselines that produce a ranked list per history."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.contract import Recommendation, RecommendationSink, StepReport, UserSequence
from model.ranking_metrics import RankingSums
from model.state_io import read_state, write_state

EVAL_DEPTH = 20  # ranks beyond the deepest cutoff are misses for every metric


class RankedListBaseline:
    """Subclasses implement ``ranked(history, depth)`` and ``update(sequence)``."""

    name = "baseline"

    def __init__(self) -> None:
        self.version = 0

    def ranked(self, history: UserSequence, depth: int) -> list[tuple[str, float]]:
        raise NotImplementedError

    def update(self, sequence: UserSequence) -> None:
        raise NotImplementedError

    def learn(
        self,
        batch: Sequence[UserSequence],
        k: int = 0,
        on_recommendations: RecommendationSink | None = None,
        train_limit: int | None = None,  # baselines are cheap: they always learn everything
        train: Sequence[UserSequence] | None = None,
    ) -> StepReport:
        report = StepReport(model_version=self.version, sequences=len(batch))
        started = time.perf_counter()
        self._rank_new_events(batch, report)
        if k > 0:
            report.recommendations = self.recommend(batch, k)
            if on_recommendations is not None:
                on_recommendations(report.recommendations, self.version)
        report.eval_s = time.perf_counter() - started
        started = time.perf_counter()
        for seq in batch if train is None else train:
            self.update(seq)
        self.version += 1
        report.model_version = self.version
        report.train_s = time.perf_counter() - started
        return report

    def evaluate(self, batch: Sequence[UserSequence]) -> StepReport:
        """Rank the new events without learning anything (as the transformer's)."""
        report = StepReport(model_version=self.version, sequences=len(batch))
        self._rank_new_events(batch, report)
        return report

    def _rank_new_events(self, batch: Sequence[UserSequence], report: StepReport) -> None:
        for seq in batch:
            for i in range(len(seq.items) - seq.new_count, len(seq.items)):
                prefix = UserSequence(seq.user_id, seq.items[:i], seq.actions[:i], seq.ts[:i])
                ranked = [item for item, _ in self.ranked(prefix, EVAL_DEPTH)]
                target = seq.items[i]
                rank = ranked.index(target) if target in ranked else None
                report.overall.add(rank)
                report.per_action.setdefault(seq.actions[i], RankingSums()).add(rank)
                report.evaluated += 1

    def recommend(
        self, histories: Sequence[UserSequence], k: int,
        exclude: Sequence[Sequence[str]] | None = None,
    ) -> list[Recommendation]:  # fmt: skip
        out = []
        for index, history in enumerate(histories):
            banned = set(exclude[index]) if exclude else set()
            ranked = [(i, s) for i, s in self.ranked(history, k + len(banned)) if i not in banned]
            out.append(Recommendation(history.user_id, [i for i, _ in ranked[:k]],
                                      [s for _, s in ranked[:k]]))  # fmt: skip
        return out

    # -- checkpoints: subclasses describe their state as JSON --------------------

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        write_state(
            directory, {}, {"kind": self.name, "version": self.version, "state": self.state()}
        )

    @classmethod
    def load(cls, directory: Path) -> RankedListBaseline:
        _tensors, meta = read_state(directory)
        learner = cls()
        learner.version = int(meta["version"])
        learner.restore(meta["state"])
        return learner
