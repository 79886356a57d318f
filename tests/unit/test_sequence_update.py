"""The trainer's bounds on what it reads from the sequences topic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stream.sequence_update import SequenceUpdate

GOOD = SequenceUpdate(
    user_id="u", items=["a", "b"], actions=["view", "buy"], ts=[1.0, 2.0], event_ids=["e1", "e2"],
    new_count=1, event_id="e2", event_ts=2.0, ingest_ts=2.0, emitted_ts=2.5,
)  # fmt: skip


def test_a_window_within_the_limits_passes_and_round_trips() -> None:
    assert GOOD.size_problem(max_events=2, max_id_length=8) is None
    assert SequenceUpdate.from_json(GOOD.to_json()) == GOOD


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"items": ["a", "b", "c"]}, "differ in length"),
        ({"items": [], "actions": [], "ts": [], "event_ids": []}, "0 events"),
        ({"new_count": 3}, "new_count 3"),
        ({"user_id": "x" * 9}, "at most 8 characters"),
        ({"items": ["a", 7]}, "not a string"),
    ],
)
def test_out_of_bounds_windows_are_named(change: dict[str, object], expected: str) -> None:
    problem = replace(GOOD, **change).size_problem(max_events=2, max_id_length=8)  # type: ignore[arg-type]
    assert problem is not None and expected in problem


def test_a_window_longer_than_the_limit_is_refused() -> None:
    assert "limit window.max_events = 1" in (GOOD.size_problem(max_events=1, max_id_length=8) or "")
