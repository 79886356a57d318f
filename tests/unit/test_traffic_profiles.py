"""The sessions profile's interleaving: every click once, each session in its own order,
never more sessions open than asked."""

from __future__ import annotations

import random

from bench.profiles import interleave_sessions
from stream.messages.events import RawEvent


def sessions(count: int, seed: int = 1) -> list[list[RawEvent]]:
    rng = random.Random(seed)
    return [
        [
            RawEvent(user_id=f"s{s}", item_id=f"{s}-{c}", action="view", ts=0.0)
            for c in range(rng.randint(1, 9))
        ]
        for s in range(count)
    ]


def test_every_click_once_in_its_session_s_order_with_bounded_open_sessions() -> None:
    given = sessions(300)
    stream = interleave_sessions(given, open_at_once=25)
    assert sorted(e["item_id"] for e in stream) == sorted(e["item_id"] for s in given for e in s)
    assert [e["ts"] for e in stream] == [float(i) for i in range(len(stream))]
    by_session: dict[str, list[str]] = {}
    for event in stream:
        by_session.setdefault(event["user_id"], []).append(event["item_id"])
    assert by_session == {s[0]["user_id"]: [e["item_id"] for e in s] for s in given}
    last = {
        user: max(i for i, e in enumerate(stream) if e["user_id"] == user) for user in by_session
    }
    first = {
        user: min(i for i, e in enumerate(stream) if e["user_id"] == user) for user in by_session
    }
    for position in range(len(stream)):
        opened = sum(first[u] <= position <= last[u] for u in by_session)
        assert opened <= 25
    assert interleave_sessions(given, 25) == stream  # deterministic for a seed
    assert [e["user_id"] for e in interleave_sessions(given, 1)] == [
        e["user_id"] for s in given for e in s
    ]  # one open at a time: the sessions back to back
