"""Pacing and re-timing of ``recstream produce`` (no broker needed for the schedule)."""

from __future__ import annotations

import pytest

from stream.data.producer import check_actions, schedule
from stream.messages.events import RawEvent
from stream.settings import Settings


def raw(ts: float, action: str = "view") -> RawEvent:
    return RawEvent(user_id="u", item_id="i", action=action, ts=ts)


EVENTS = [raw(1_500_000_000.0), raw(1_500_000_010.0), raw(1_500_000_010.0), raw(1_500_000_040.0)]


def test_retimed_events_keep_their_spacing_scaled() -> None:
    out = list(schedule(EVENTS, start_ts=2_000.0, time_scale=10.0))
    assert [s.send_at for s in out] == [0.0, 1.0, 1.0, 4.0]
    assert [s.event["ts"] for s in out] == [2_000.0, 2_001.0, 2_001.0, 2_004.0]


def test_a_rate_spaces_events_evenly() -> None:
    out = list(schedule(EVENTS, start_ts=0.0, rate=4.0))
    assert [s.send_at for s in out] == [0.0, 0.25, 0.5, 0.75]


def test_original_timestamps_can_be_kept() -> None:
    out = list(schedule(EVENTS, start_ts=0.0, rate=100.0, retime=False))
    assert [s.event["ts"] for s in out] == [e["ts"] for e in EVENTS]


def test_bad_pacing_and_unknown_actions_are_refused() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        list(schedule(EVENTS, 0.0, time_scale=0))
    with pytest.raises(ValueError, match="rate"):
        list(schedule(EVENTS, 0.0, rate=-1))
    with pytest.raises(ValueError, match="actions like have no topic"):
        check_actions(Settings(), [raw(1.0, "like")])
