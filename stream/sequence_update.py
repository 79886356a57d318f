"""The message on ``recstream.sequences``: one user's current window (key = user_id)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from stream.window import Window


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

    def size_problem(self, max_events: int, max_id_length: int) -> str | None:
        """Why this update is out of bounds (None when it is fine): the trainer checks
        what it reads, since anyone who can write the topic controls these sizes."""
        n = len(self.items)
        if not len(self.actions) == len(self.ts) == len(self.event_ids) == n:
            return "items, actions, ts and event_ids differ in length"
        if not 1 <= n <= max_events:
            return f"{n} events (limit window.max_events = {max_events})"
        if not 0 <= self.new_count <= n:
            return f"new_count {self.new_count} outside 0..{n}"
        ids = (self.user_id, self.event_id, *self.items, *self.event_ids)
        if any(not isinstance(i, str) or len(i) > max_id_length for i in ids):
            return f"an id that is not a string of at most {max_id_length} characters"
        return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
