"""Merging a user's waiting updates: the newest window, every new event still new."""

from __future__ import annotations

from stream.messages.sequence_update import SequenceUpdate
from stream.trainer.pending_updates import PendingUpdates, merge_user_updates


def update(user: str, ids: list[str], new: int, ts: list[float] | None = None) -> SequenceUpdate:
    stamps = ts or [float(i) for i in range(len(ids))]
    return SequenceUpdate(
        user_id=user, items=[f"item-{i}" for i in ids], actions=["view"] * len(ids), ts=stamps,
        event_ids=ids, new_count=new, event_id=ids[-1], event_ts=stamps[-1],
        ingest_ts=stamps[-1], emitted_ts=stamps[-1],
    )  # fmt: skip


def test_one_update_is_passed_through() -> None:
    merged = merge_user_updates([update("u", ["a", "b", "c"], 2)])
    assert merged.sequence.new_count == 2
    assert list(merged.sequence.items) == ["item-a", "item-b", "item-c"]
    assert merged.newest.event_id == "c"


def test_consecutive_updates_add_up_their_new_events() -> None:
    first = update("u", ["a", "b", "c"], 1)  # c is new
    second = update("u", ["a", "b", "c", "d", "e"], 2)  # d, e are new
    merged = merge_user_updates([first, second])
    assert merged.sequence.new_count == 3  # c, d and e: none is skipped by the merge
    assert merged.newest is second
    assert merged.updates == (first, second)


def test_a_late_event_makes_everything_after_it_new() -> None:
    first = update("u", ["a", "b", "c", "d"], 1)
    # "x" arrived late and sorts between a and b; the sequencer marks b.. as new.
    late = update("u", ["a", "x", "b", "c", "d"], 4)
    assert merge_user_updates([first, late]).sequence.new_count == 4


def test_new_events_trimmed_out_of_the_window_are_not_counted() -> None:
    first = update("u", ["a", "b", "c"], 3)
    trimmed = update("u", ["c", "d", "e"], 2)  # window of 3: a and b fell out
    assert merge_user_updates([first, trimmed]).sequence.new_count == 3


def test_redelivered_update_merges_to_the_same_sequence() -> None:
    once = update("u", ["a", "b"], 1)
    assert merge_user_updates([once, once]).sequence == merge_user_updates([once]).sequence


def test_pending_takes_the_longest_waiting_users_first_and_keeps_the_rest() -> None:
    pending = PendingUpdates()
    pending.add([(update("u1", ["a"], 1), "m1"), (update("u2", ["b"], 1), "m2")])
    pending.add([(update("u1", ["a", "c"], 1), "m3"), (update("u3", ["d"], 1), "m4")])
    assert (pending.users, pending.count) == (3, 4)
    first = pending.take(2)
    assert [m.newest.user_id for m in first] == ["u1", "u2"]
    assert first[0].tags == ("m1", "m3") and first[0].sequence.new_count == 2
    assert (pending.users, pending.count) == (1, 1)
    assert [m.tags for m in pending.take(10)] == [("m4",)]
    assert pending.count == 0 and pending.take(10) == []
