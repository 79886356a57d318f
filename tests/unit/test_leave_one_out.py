"""The leave-one-out bench's split and its in-time ranking (bench/leave_one_out.py)."""

from __future__ import annotations

from bench.leave_one_out import run_model, split_last
from stream.messages.events import RawEvent
from stream.paths import REPO_ROOT
from stream.settings import load_settings


def _event(user: str, item: str, ts: float) -> RawEvent:
    return RawEvent(user_id=user, item_id=item, action="view", ts=ts)


def test_each_users_last_event_is_held_out_after_its_window() -> None:
    events = [_event("a", "1", 0), _event("b", "2", 1), _event("a", "3", 2),
              _event("c", "9", 3), _event("a", "4", 4), _event("b", "5", 5)]  # fmt: skip
    learned, held = split_last(events, max_events=2)
    assert [e["item_id"] for e in learned] == ["1", "2", "3"]  # c has one event: left out
    assert [h.user_id for h in held.histories] == ["a", "b"]
    assert [list(h.items) for h in held.histories] == [["3", "4"], ["2", "5"]]  # window of 2
    assert all(h.new_count == 1 for h in held.histories)
    assert held.learned_before == [3, 3]


def test_in_time_ranks_before_the_next_event_is_learned_and_at_the_end_after_all() -> None:
    """User a's last item is b's next one: co-occurrence learns 1 -> 2 from b only after
    a's event has passed, so a's held-out event is a miss in time and a hit at the end."""
    events = [_event("a", "1", 0), _event("a", "2", 1),  # a: 1 then (held out) 2
              _event("b", "1", 2), _event("b", "2", 3), _event("b", "7", 4)]  # fmt: skip
    settings = load_settings(REPO_ROOT / "configs" / "test.yaml")
    learned, held = split_last(events, settings.window.max_events)
    row = run_model("cooc", settings, learned, held, batch_events=1)
    assert row.held_out == 2
    # In time: a's 2 is ranked before b's 1 -> 2 is learned (only popularity fill: item 1
    # first, 2 unseen), b's 7 never seen. At the end: a's 2 is cooc's top successor of 1.
    assert row.in_time_hr10 == 0.0
    assert row.end_hr10 == 0.5
