"""The one contract between the stream and every model: ``learn`` and ``recommend``.

A batch is a list of :class:`UserSequence` (a user's window, oldest first, with the
number of trailing events that are new). ``learn`` is test-then-train: it first
ranks every new event with the current state, then learns from the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from model.ranking_metrics import RankingSums


@dataclass(frozen=True)
class UserSequence:
    user_id: str
    items: Sequence[str]
    actions: Sequence[str]
    ts: Sequence[float]
    new_count: int = 0

    def __post_init__(self) -> None:
        if not len(self.items) == len(self.actions) == len(self.ts):
            raise ValueError("items, actions and ts must have the same length")
        if not 0 <= self.new_count <= len(self.items):
            raise ValueError("new_count must be between 0 and the sequence length")


@dataclass(frozen=True)
class Recommendation:
    user_id: str
    items: list[str]
    scores: list[float]


@dataclass
class StepReport:
    """What one ``learn`` call did, for metrics, logs and the replay report."""

    model_version: int
    sequences: int
    evaluated: int = 0  # new events ranked before learning
    cold: int = 0  # of those, events whose item the model had never admitted
    overall: RankingSums = field(default_factory=RankingSums)
    per_action: dict[str, RankingSums] = field(default_factory=dict)
    # By the target item's age in events (model.ranking_metrics.AGE_BUCKETS); learners
    # that do not track item ages leave it empty.
    per_age: dict[str, RankingSums] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    trained_positions: int = 0
    replayed_sequences: int = 0
    untrained_sequences: int = 0  # ranked and recommended for, but left out of the step
    skipped: bool = False
    skip_reason: str | None = None
    vocab_size: int = 0
    eval_s: float = 0.0
    train_s: float = 0.0
    recommendations: list[Recommendation] = field(default_factory=list)


# Called with each user's top-k and the model version they come from, as soon as the
# ranking pass is done and before the optimiser step: publishing need not wait for it.
RecommendationSink = Callable[[list[Recommendation], int], None]


class Learner(Protocol):
    """What ``stream/`` calls; every model and baseline implements it."""

    name: str
    version: int  # successful steps so far; the stream may move it up, never down

    def learn(
        self,
        batch: Sequence[UserSequence],
        k: int = 0,
        on_recommendations: RecommendationSink | None = None,
        train_limit: int | None = None,
        train: Sequence[UserSequence] | None = None,
    ) -> StepReport:
        """Rank the new events, then learn; with ``k`` > 0 also return each user's top-k
        (computed in the ranking pass, before this batch is learned), handing them to
        ``on_recommendations`` first when given.

        What the step learns from: ``train`` when given (the stream chose it: the batch's
        sequences that fit its budget, then over-budget ones of earlier steps; ``batch``
        may then be empty), else the batch. ``train_limit`` bounds a step's sequences,
        replay included, so its cost stays bounded when the stream outruns training:
        without ``train`` a random subset of the batch is learned; replay only fills what
        is left under the limit (sequences with new targets come first)."""
        ...

    def recommend(
        self,
        histories: Sequence[UserSequence],
        k: int,
        exclude: Sequence[Sequence[str]] | None = None,
    ) -> list[Recommendation]:
        """Top-k item ids and scores per user, never padding or unknown rows."""
        ...

    def save(self, directory: Path) -> None:
        """safetensors + JSON; never pickle."""
        ...
