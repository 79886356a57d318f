"""What the trainer publishes for a step: one recommendation message per user, stamped
with the newest event its window reflects."""

from __future__ import annotations

import math

from model.contract import Recommendation
from stream.messages.recommendation import RecommendationMessage
from stream.trainer.pending_updates import MergedUpdate


def to_messages(
    recommendations: list[Recommendation], batch: list[MergedUpdate], version: int, now: float
) -> list[RecommendationMessage]:
    """One message per user, stamped with the newest event its window reflects; users
    with nothing to recommend or non-finite scores (a broken model) get none."""
    newest = {merged.newest.user_id: merged.newest for merged in batch}
    return [
        RecommendationMessage(
            user_id=rec.user_id,
            items=rec.items,
            scores=[round(score, 6) for score in rec.scores],
            model_version=version,
            event_ts=newest[rec.user_id].event_ts,
            event_id=newest[rec.user_id].event_id,
            published_ts=now,
        )
        for rec in recommendations
        # nothing to rank yet (an empty vocabulary): no message
        if rec.items and len(rec.scores) == len(rec.items) and all(map(math.isfinite, rec.scores))
    ]
