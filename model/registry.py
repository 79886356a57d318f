"""Build any learner by name, and load any saved learner from its folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from model.baselines.base import RankedListBaseline
from model.baselines.cooccurrence import CooccurrenceBaseline
from model.baselines.frozen import FrozenLearner
from model.baselines.popularity import PopularityBaseline, TrendingBaseline
from model.baselines.recent import RecentItemsBaseline
from model.baselines.retrain import PeriodicRetrainLearner, RetrainSchedule
from model.contract import Learner
from model.learner_config import LearnerConfig
from model.names import MODEL_NAMES
from model.state_io import META
from model.transformer_learner import TransformerLearner

_BASELINES: dict[str, type[RankedListBaseline]] = {
    "popularity": PopularityBaseline,
    "trending": TrendingBaseline,
    "cooc": CooccurrenceBaseline,
    "recent": RecentItemsBaseline,
}


@dataclass(frozen=True)
class BaselineOptions:
    popularity_half_life_s: float = 86_400.0
    trending_half_life_events: float = 1_000.0
    frozen_warmup_events: int = 10_000
    retrain: RetrainSchedule = field(default_factory=RetrainSchedule)


def build_learner(
    name: str, config: LearnerConfig, options: BaselineOptions = BaselineOptions()
) -> Learner:
    if name == "transformer":
        return TransformerLearner(config)
    if name == "frozen":
        return FrozenLearner(config, options.frozen_warmup_events)
    if name == "retrain":
        return PeriodicRetrainLearner(config, options.retrain)
    if name == "popularity":
        return PopularityBaseline(options.popularity_half_life_s)
    if name == "trending":
        return TrendingBaseline(options.trending_half_life_events)
    if name in _BASELINES:
        return _BASELINES[name]()
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def load_learner(directory: Path) -> Learner:
    if (directory / "frozen.json").exists():
        return FrozenLearner.load(directory)
    if (directory / "retrain.json").exists():
        return PeriodicRetrainLearner.load(directory)
    kind = json.loads((directory / META).read_text())["kind"]
    if kind == "transformer":
        return TransformerLearner.load(directory)
    return _BASELINES[kind].load(directory)
