"""The two traffic shapes every benchmark that matters runs (DESIGN.md, "Traffic shape").

- ``taobao``: the Taobao 96k slice, time-sorted: 58,732 users in 96,169 events, most
  users with one or two events, so nearly every event is another user's.
- ``sessions``: YOOCHOOSE clicks (ADER's periods 0-4, sessions as users, about four
  clicks each), with ``OPEN_SESSIONS`` sessions open at a time: each event is the next
  click of an open session drawn at random, and a finished session makes room for the
  next one in the file. Windows grow while a session is open (its clicks come about
  ``OPEN_SESSIONS`` / rate seconds apart: 10 s at 1,000 events/s), and in any second
  nearly every event is another session's. The files' own order would replay the
  sessions of a quiet hour compressed into seconds: only about 15k of them in the
  first 60k clicks, where a site taking 1,000 clicks a second has many more open.

The files are read from ``../shared/data`` (``$RECSTREAM_SHARED_DATA``). Timestamps
are re-timed by whoever produces the events; only the order matters here.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from stream.data.event_files import read_pairs, read_taobao, shared_data_dir
from stream.messages.events import RawEvent

YOOCHOOSE_PERIODS = 5
# Sessions open at a time in the ``sessions`` profile: at 1,000 clicks/s a session's
# clicks come about 10 s apart, so a session of four clicks stays open about 40 s.
OPEN_SESSIONS = 10_000


def _taobao() -> list[RawEvent]:
    return read_taobao(shared_data_dir() / "taobao-userbehavior-96k" / "UserBehavior.csv")


def _sessions() -> list[RawEvent]:
    sessions: dict[str, list[RawEvent]] = {}  # in the order of their first click
    for period in range(YOOCHOOSE_PERIODS):
        path = shared_data_dir() / "ader-yoochoose" / f"period_{period}.txt"
        for event in read_pairs(path):
            # Session ids restart per period in ADER's files: keep periods apart.
            event["user_id"] = f"p{period}-{event['user_id']}"
            sessions.setdefault(event["user_id"], []).append(event)
    return interleave_sessions(list(sessions.values()), OPEN_SESSIONS)


def interleave_sessions(
    sessions: list[list[RawEvent]], open_at_once: int, seed: int = 0
) -> list[RawEvent]:
    """One stream of ``sessions`` (each in its own click order) with ``open_at_once`` open
    at a time: every event is the next click of an open session drawn at random, and a
    session that runs out of clicks gives its place to the next one. ts = position."""
    rng = random.Random(seed)
    waiting = iter(sessions)
    open_sessions = [deque(session) for session in islice(waiting, open_at_once)]
    stream: list[RawEvent] = []
    while open_sessions:
        at = rng.randrange(len(open_sessions))
        clicks = open_sessions[at]
        event = RawEvent(**clicks.popleft())
        event["ts"] = float(len(stream))
        stream.append(event)
        if not clicks:
            following = next(waiting, None)
            if following is not None:
                open_sessions[at] = deque(following)
            else:  # none left to open: close this one (swap with the last, then drop)
                open_sessions[at] = open_sessions[-1]
                open_sessions.pop()
    return stream


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
        "sessions",
        "YOOCHOOSE sessions, 10,000 open at a time: several clicks per user within a minute",
        _sessions,
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
