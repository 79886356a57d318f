"""The message on ``recstream.recommendations`` (key = user_id), as DESIGN.md specifies."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from model.contract import Recommendation
from stream.trainer_batching import MergedUpdate


@dataclass(frozen=True, slots=True)
class RecommendationMessage:
    user_id: str
    items: list[str]
    scores: list[float]
    model_version: int  # the weights that ranked the items
    event_ts: float  # the newest event the recommendation reflects ...
    event_id: str  # ... and its id
    published_ts: float

    def to_json(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, raw: bytes) -> RecommendationMessage:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(
            user_id=str(data["user_id"]),
            items=[str(item) for item in data["items"]],
            scores=[float(score) for score in data["scores"]],
            model_version=int(data["model_version"]),
            event_ts=float(data["event_ts"]),
            event_id=str(data["event_id"]),
            published_ts=float(data["published_ts"]),
        )


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
