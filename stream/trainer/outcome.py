"""What one finished trainer step did: for its metrics and for tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from model.contract import StepReport
from stream.messages.recommendation import RecommendationMessage
from stream.trainer.catch_up import Choice
from stream.trainer.pending_updates import MergedUpdate


@dataclass
class StepOutcome:
    """One finished step, for metrics and tests."""

    report: StepReport
    batch: list[MergedUpdate]
    choice: Choice | None = None  # what the step learned, when the catch-up queue chose it
    messages: list[RecommendationMessage] = field(default_factory=list)
    published_ts: float = 0.0
    wall_s: float = 0.0
    learned: bool = True  # False: the step only ranked (training cadence)
