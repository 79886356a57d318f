"""Periodic full retraining: every P events, a new transformer is trained from scratch on
everything seen so far, then served unchanged until the next retraining."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model.contract import Recommendation, RecommendationSink, StepReport, UserSequence
from model.learner_config import LearnerConfig
from model.offline_training import fit
from model.transformer_learner import TransformerLearner


@dataclass(frozen=True)
class RetrainSchedule:
    every_events: int = 50_000
    epochs: int = 2
    batch_size: int = 128
    positions: int | None = 5  # trailing positions trained per window (None: all)


class PeriodicRetrainLearner:
    name = "retrain"

    def __init__(
        self, config: LearnerConfig, schedule: RetrainSchedule = RetrainSchedule()
    ) -> None:
        self.config = config
        self.schedule = schedule
        self.current = TransformerLearner(config)  # untrained until the first retraining
        self.history: dict[str, tuple[list[str], list[str], list[float]]] = {}
        self.events_since = 0
        self.retrainings = 0
        self.train_seconds = 0.0

    @property
    def version(self) -> int:
        """The recommendations' version: the retrainings so far."""
        return self.retrainings

    @version.setter
    def version(self, value: int) -> None:
        self.retrainings = value

    def learn(
        self,
        batch: Sequence[UserSequence],
        k: int = 0,
        on_recommendations: RecommendationSink | None = None,
        train_limit: int | None = None,  # retraining is periodic and whole, never bounded
        train: Sequence[UserSequence] | None = None,  # every event is kept whole, as read
    ) -> StepReport:
        report = self.current.evaluate(batch)
        if k > 0:
            report.recommendations = self.current.recommend(batch, k)
            if on_recommendations is not None:
                on_recommendations(report.recommendations, self.retrainings)
        for seq in batch:
            items, actions, ts = self.history.setdefault(seq.user_id, ([], [], []))
            start = len(seq.items) - seq.new_count
            items.extend(seq.items[start:])
            actions.extend(seq.actions[start:])
            ts.extend(seq.ts[start:])
        self.events_since += sum(s.new_count for s in batch)
        if self.events_since >= self.schedule.every_events:
            started = time.perf_counter()
            self.retrain()
            report.train_s = time.perf_counter() - started
        return report

    def training_sequences(self) -> list[UserSequence]:
        """Every user's full history, cut into windows of the model's length."""
        width = self.config.model.max_len
        out = []
        for user, (items, actions, ts) in self.history.items():
            for end in range(len(items), 0, -width):
                start = max(0, end - width)
                out.append(UserSequence(user, items[start:end], actions[start:end], ts[start:end]))
        return out

    def retrain(self) -> None:
        fresh = TransformerLearner(self.config)
        self.train_seconds += fit(
            fresh,
            self.training_sequences(),
            self.schedule.epochs,
            self.schedule.batch_size,
            self.schedule.positions,
        )
        self.current = fresh
        self.events_since = 0
        self.retrainings += 1

    def recommend(
        self, histories: Sequence[UserSequence], k: int,
        exclude: Sequence[Sequence[str]] | None = None,
    ) -> list[Recommendation]:  # fmt: skip
        return self.current.recommend(histories, k, exclude)

    def save(self, directory: Path) -> None:
        self.current.save(directory / "model")
        meta = {
            "kind": self.name,
            "schedule": vars(self.schedule),
            "history": self.history,
            "events_since": self.events_since,
            "retrainings": self.retrainings,
            "train_seconds": self.train_seconds,
        }
        (directory / "retrain.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> PeriodicRetrainLearner:
        meta = json.loads((directory / "retrain.json").read_text())
        current = TransformerLearner.load(directory / "model")
        learner = cls(current.config, RetrainSchedule(**meta["schedule"]))
        learner.current = current
        learner.history = {u: (list(i), list(a), [float(t) for t in ts])
                           for u, (i, a, ts) in meta["history"].items()}  # fmt: skip
        learner.events_since = int(meta["events_since"])
        learner.retrainings = int(meta["retrainings"])
        learner.train_seconds = float(meta["train_seconds"])
        return learner
