"""The message on ``recstream.sequences``: one user's current window (key = user_id)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from stream.messages.window import Window


@dataclass(frozen=True, slots=True)
class SequenceUpdate:
    user_id: str
    items: list[str]
    actions: list[str]
    ts: list[float]
    event_ids: list[str]
    new_count: int  # how many trailing events are new since the last update
    event_id: str  # the newest event in the window: what a recommendation reflects
    event_ts: float
    ingest_ts: float  # newest Kafka timestamp among the events that caused this update
    emitted_ts: float

    @classmethod
    def from_window(
        cls, user_id: str, window: Window, new_count: int, ingest_ts: float, now: float
    ) -> SequenceUpdate:
        return cls(
            user_id=user_id,
            items=window.items,
            actions=window.actions,
            ts=window.ts,
            event_ids=window.ids,
            new_count=new_count,
            event_id=window.ids[-1],
            event_ts=window.ts[-1],
            ingest_ts=ingest_ts,
            emitted_ts=now,
        )

    def to_json(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, raw: bytes) -> SequenceUpdate:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
