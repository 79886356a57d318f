"""The accounting every fault test ends with must catch each way of losing an event."""

from __future__ import annotations

import orjson

from stream.local.accounting import account
from stream.messages.events import Event
from stream.messages.sequence_update import SequenceUpdate
from stream.messages.window import Window, apply_events
from stream.settings import WindowSettings

WINDOW = WindowSettings(max_events=5)
EVENTS = [Event("u1", f"i{n}", "view", 100.0 + n, f"e{n}") for n in range(3)] + [
    Event("u2", "j0", "view", 50.0, "f0"),
    Event("u2", "bad", "view", 51.0, "f1"),  # dead-lettered
]


def window_update(user: str, events: list[Event], new: int) -> bytes:
    window = apply_events(Window(), events, WINDOW.max_events, WINDOW.max_age_s).window
    return SequenceUpdate.from_window(user, window, new, 0.0, 0.0).to_json()


def rec(user: str, event_id: str, version: int) -> bytes:
    return orjson.dumps({"user_id": user, "event_id": event_id, "model_version": version,
                         "items": ["x"], "scores": [1.0]})  # fmt: skip


DEAD = [orjson.dumps({"reason": "wrong_type", "raw": orjson.dumps({"event_id": "f1"}).decode()})]
GOOD_SEQUENCES = [
    window_update("u1", EVENTS[:2], 2),
    window_update("u2", EVENTS[3:4], 1),
    window_update("u1", EVENTS[:3], 1),
]
GOOD_RECS = [rec("u1", "e1", 1), rec("u2", "f0", 1), rec("u1", "e2", 2)]


def test_a_clean_run_accounts_for_every_event() -> None:
    result = account(EVENTS, GOOD_SEQUENCES, DEAD, GOOD_RECS, WINDOW)
    assert result.ok, result.summary()
    assert (result.in_windows, result.dead_lettered, result.users) == (4, 1, 2)


def test_batched_messages_are_read_update_by_update() -> None:
    batch = b'{"updates":[' + b",".join(GOOD_SEQUENCES[:2]) + b"]}"
    result = account(EVENTS, [batch, GOOD_SEQUENCES[2]], DEAD, GOOD_RECS, WINDOW)
    assert result.ok, result.summary()
    # The same batch without its last update loses e2, as the bare messages would.
    result = account(EVENTS, [batch], DEAD, GOOD_RECS, WINDOW)
    assert result.missing == ["e2"] and not result.ok


def test_a_lost_event_is_missing_and_its_window_wrong() -> None:
    result = account(EVENTS, GOOD_SEQUENCES[:2], DEAD, GOOD_RECS, WINDOW)
    assert result.missing == ["e2"] and result.wrong_windows == ["u1"] and not result.ok
    assert result.stale_users == []  # the recommendation claims e2 but no window had it


def test_an_event_twice_in_a_window_is_doubled() -> None:
    twice = SequenceUpdate.from_json(GOOD_SEQUENCES[2])
    broken = SequenceUpdate(**(twice.as_dict() | {
        "items": [*twice.items, "i2"], "actions": [*twice.actions, "view"],
        "ts": [*twice.ts, 102.0], "event_ids": [*twice.event_ids, "e2"]}))  # fmt: skip
    result = account(EVENTS, [*GOOD_SEQUENCES, broken.to_json()], DEAD, GOOD_RECS, WINDOW)
    assert result.doubled == ["e2"] and not result.ok


def test_stale_recommendations_and_versions_going_down_are_reported() -> None:
    result = account(EVENTS, GOOD_SEQUENCES, DEAD, GOOD_RECS[:2], WINDOW)
    assert result.stale_users == ["u1"]
    result = account(EVENTS, GOOD_SEQUENCES, DEAD, [*GOOD_RECS, rec("u1", "e2", 2)], WINDOW)
    assert result.version_drops == ["u1: 2 -> 2"] and not result.ok
    undelivered_dead_letter = account(EVENTS, GOOD_SEQUENCES, [], GOOD_RECS, WINDOW)
    assert undelivered_dead_letter.missing == ["f1"]


def test_an_event_trimmed_in_the_batch_that_brought_it_is_not_missing() -> None:
    many = [Event("u3", f"k{n}", "view", 200.0 + n, f"g{n}") for n in range(7)]
    shown = window_update("u3", many, 5)  # one batch of 7 events: g0 and g1 never shown
    result = account(many, [shown], [], [rec("u3", "g6", 1)], WINDOW)
    assert result.ok and result.trimmed_unseen == 2 and result.in_windows == 5
    lost = SequenceUpdate.from_json(shown)
    without_g3 = SequenceUpdate(**(lost.as_dict() | {
        "items": ["k2", "k4", "k5", "k6"], "actions": ["view"] * 4,
        "ts": [202.0, 204.0, 205.0, 206.0], "event_ids": ["g2", "g4", "g5", "g6"],
        "new_count": 4}))  # fmt: skip
    result = account(many, [without_g3.to_json()], [], [rec("u3", "g6", 1)], WINDOW)
    assert result.missing == ["g3"] and result.wrong_windows == ["u3"]
