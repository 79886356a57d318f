"""The message on ``recstream.recommendations`` (key = user_id), as DESIGN.md specifies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


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
