"""The two traffic shapes every benchmark that matters runs (DESIGN.md, "Traffic shape").

- ``taobao``: the Taobao 96k slice, time-sorted: 58,732 users in 96,169 events, most
  users with one or two events, so nearly every event is another user's.
- ``sessions``: YOOCHOOSE clicks (ADER's periods 0-4, sessions as users): users with
  several clicks each within minutes, interleaved, so windows grow while a session
  is active (about 21k sessions in the first 84k clicks).

The files are read from ``../shared/data`` (``$RECSTREAM_SHARED_DATA``). Timestamps
are re-timed by whoever produces the events; only the order matters here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from stream.event_files import RawEvent, read_pairs, read_taobao, shared_data_dir

YOOCHOOSE_PERIODS = 5


def _taobao() -> list[RawEvent]:
    return read_taobao(shared_data_dir() / "taobao-userbehavior-96k" / "UserBehavior.csv")


def _sessions() -> list[RawEvent]:
    events: list[RawEvent] = []
    for period in range(YOOCHOOSE_PERIODS):
        path = shared_data_dir() / "ader-yoochoose" / f"period_{period}.txt"
        for event in read_pairs(path):
            # Session ids restart per period in ADER's files: keep periods apart.
            event["user_id"] = f"p{period}-{event['user_id']}"
            event["ts"] = float(len(events))
            events.append(event)
    return events


@dataclass(frozen=True)
class TrafficProfile:
    name: str
    description: str
    read: Callable[[], list[RawEvent]]

    def events(self, count: int) -> list[RawEvent]:
        """The first ``count`` events, wrapped around when the file is shorter (the
        producer re-times every event, so a wrapped user just continues)."""
        events = self.read()
        if len(events) < count:
            events = events * math.ceil(count / len(events))
        return events[:count]


PROFILES = {
    "taobao": TrafficProfile("taobao", "Taobao 96k slice: one or two events per user", _taobao),
    "sessions": TrafficProfile(
        "sessions", "YOOCHOOSE sessions: several clicks per user within minutes", _sessions
    ),
}


@dataclass(frozen=True)
class StreamShape:
    """What a stream looks like when produced at ``rate`` events/s."""

    events: int
    users: int
    users_per_second: float  # distinct users in a second of the stream, averaged
    events_per_user: float

    def summary(self) -> str:
        return (f"{self.events:,} events, {self.users:,} users, "
                f"{self.users_per_second:,.0f} distinct users/s, "
                f"{self.events_per_user:.1f} events/user")  # fmt: skip


def shape(events: list[RawEvent], rate: float) -> StreamShape:
    per_second = max(1, round(rate))
    seconds = [events[i : i + per_second] for i in range(0, len(events), per_second)]
    distinct = [len({e["user_id"] for e in second}) for second in seconds]
    users = len({e["user_id"] for e in events})
    return StreamShape(
        events=len(events),
        users=users,
        users_per_second=sum(distinct) / max(len(distinct), 1),
        events_per_user=len(events) / max(users, 1),
    )
