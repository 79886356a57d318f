"""A transformer trained on a warm-up prefix of the stream, then never updated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from model.contract import Recommendation, RecommendationSink, StepReport, UserSequence
from model.learner_config import LearnerConfig
from model.transformer_learner import TransformerLearner


class FrozenLearner:
    name = "frozen"

    def __init__(self, config: LearnerConfig, warmup_events: int) -> None:
        self.inner = TransformerLearner(config)
        self.warmup_events = warmup_events
        self.events_seen = 0

    @property
    def version(self) -> int:
        return self.inner.version

    @version.setter
    def version(self, value: int) -> None:
        self.inner.version = value

    @property
    def frozen(self) -> bool:
        return self.events_seen >= self.warmup_events

    def learn(
        self,
        batch: Sequence[UserSequence],
        k: int = 0,
        on_recommendations: RecommendationSink | None = None,
        train_limit: int | None = None,
        train: Sequence[UserSequence] | None = None,
    ) -> StepReport:
        if self.frozen:
            # No vocabulary growth either: items first seen after the warm-up stay unknown.
            report = self.inner.evaluate(batch)
            if k > 0:
                report.recommendations = self.inner.recommend(batch, k)
                if on_recommendations is not None:
                    on_recommendations(report.recommendations, self.inner.version)
        else:
            report = self.inner.learn(batch, k, on_recommendations, train_limit, train)
        self.events_seen += sum(s.new_count for s in batch)
        return report

    def recommend(
        self, histories: Sequence[UserSequence], k: int,
        exclude: Sequence[Sequence[str]] | None = None,
    ) -> list[Recommendation]:  # fmt: skip
        return self.inner.recommend(histories, k, exclude)

    def save(self, directory: Path) -> None:
        self.inner.save(directory / "model")
        meta = {
            "kind": self.name,
            "warmup_events": self.warmup_events,
            "events_seen": self.events_seen,
        }
        (directory / "frozen.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> FrozenLearner:
        meta = json.loads((directory / "frozen.json").read_text())
        learner = cls.__new__(cls)
        learner.inner = TransformerLearner.load(directory / "model")
        learner.warmup_events = int(meta["warmup_events"])
        learner.events_seen = int(meta["events_seen"])
        return learner
