"""The trainer's typed decoder of sequence updates: every field checked, every refusal named.

The poison payloads are the ten that stopped the trainer for good before (issue 14):
decodable JSON with a field of the wrong type or out of range.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream.messages.sequence_decoder import (
    UpdateLimits,
    UpdateReason,
    UpdateRejection,
    decode_update,
)
from stream.messages.sequence_update import SequenceUpdate

GOOD = SequenceUpdate(
    user_id="u", items=["a", "b"], actions=["view", "purchase"], ts=[1.0, 2.0],
    event_ids=["e1", "e2"], new_count=1, event_id="e2", event_ts=2.0, ingest_ts=2.0,
    emitted_ts=2.5,
)  # fmt: skip
LIMITS = UpdateLimits(max_events=2, max_id_length=8, actions=("view", "click", "purchase"))


def payload(**change: Any) -> bytes:
    return orjson.dumps(GOOD.as_dict() | change)


def test_a_window_within_the_limits_round_trips() -> None:
    assert decode_update(GOOD.to_json(), LIMITS) == GOOD
    assert SequenceUpdate.from_json(GOOD.to_json()) == GOOD
    # Integral JSON numbers are valid seconds; unknown fields are a newer sequencer's.
    whole = decode_update(payload(ts=[1, 2], event_ts=2, extra="x"), LIMITS)
    assert isinstance(whole, SequenceUpdate) and whole.ts == [1.0, 2.0]


POISON = [
    (payload(ts=["1", "2"]), UpdateReason.WRONG_TYPE, "ts.0"),
    (payload(ts=None), UpdateReason.WRONG_TYPE, "ts"),
    (payload(ts=[[1.0], [2.0]]), UpdateReason.WRONG_TYPE, "ts.0"),
    (payload(ts=[1.7e308, 2.0]), UpdateReason.OUT_OF_RANGE, "ts.0"),
    (payload(ts=[-1.7e308, 2.0]), UpdateReason.OUT_OF_RANGE, "ts.0"),
    (payload(actions=[["view"], ["purchase"]]), UpdateReason.WRONG_TYPE, "actions.0"),
    (payload(new_count=1.5), UpdateReason.WRONG_TYPE, "new_count"),
    (payload(event_ts="2.0"), UpdateReason.WRONG_TYPE, "event_ts"),
    (payload(ingest_ts=None), UpdateReason.WRONG_TYPE, "ingest_ts"),
    (payload(ingest_ts="now"), UpdateReason.WRONG_TYPE, "ingest_ts"),
]


@pytest.mark.parametrize(("raw", "reason", "where"), POISON)
def test_the_payloads_that_stopped_the_trainer_are_refused_by_name(
    raw: bytes, reason: UpdateReason, where: str
) -> None:
    refused = decode_update(raw, LIMITS)
    assert isinstance(refused, UpdateRejection)
    assert refused.reason is reason and refused.detail.startswith(where), refused


@pytest.mark.parametrize(
    ("raw", "reason", "expected"),
    [
        (b"", UpdateReason.NOT_JSON, "Invalid JSON"),
        (b"{not json", UpdateReason.NOT_JSON, "Invalid JSON"),
        (b"[1, 2]", UpdateReason.WRONG_TYPE, "message"),
        (b'{"user_id": "u"}', UpdateReason.WRONG_TYPE, "items: Field required"),
        (payload(ts=[float("nan"), 2.0]), UpdateReason.WRONG_TYPE, "ts.0"),  # orjson: null
        (payload().replace(b"[1.0,2.0]", b"[NaN,Infinity]"), UpdateReason.OUT_OF_RANGE, "ts.0"),
        (payload(new_count=True), UpdateReason.WRONG_TYPE, "new_count"),
        (payload(items=["a", "b", "c"]), UpdateReason.INCONSISTENT, "differ in length"),
        (payload(items=[], actions=[], ts=[], event_ids=[]), UpdateReason.INCONSISTENT,
         "0 events"),
        (payload(new_count=3), UpdateReason.INCONSISTENT, "new_count 3"),
        (payload(new_count=-1), UpdateReason.INCONSISTENT, "new_count -1"),
        (payload(user_id="x" * 9), UpdateReason.INCONSISTENT, "longer than 8"),
        (payload(items=["a", ""]), UpdateReason.INCONSISTENT, "empty"),
        (payload(actions=["view", "teleport"]), UpdateReason.INCONSISTENT, "unknown actions"),
        (payload(event_id="e1"), UpdateReason.INCONSISTENT, "newest event"),
        (payload(emitted_ts=1e12), UpdateReason.OUT_OF_RANGE, "emitted_ts"),
    ],
)  # fmt: skip
def test_every_other_kind_of_bad_update_is_refused_with_a_reason(
    raw: bytes, reason: UpdateReason, expected: str
) -> None:
    refused = decode_update(raw, LIMITS)
    assert isinstance(refused, UpdateRejection) and refused.reason is reason
    assert expected in refused.detail, refused.detail


def test_a_window_longer_than_the_limit_is_refused() -> None:
    refused = decode_update(GOOD.to_json(), UpdateLimits(1, 8, ("view", "purchase")))
    assert isinstance(refused, UpdateRejection)
    assert "limit window.max_events = 1" in refused.detail
