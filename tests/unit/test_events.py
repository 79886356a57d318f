"""Event parsing: every reason code, timestamps in every accepted form, and no input raises."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.messages.events import (
    Event,
    MessageOrigin,
    Reason,
    Rejection,
    parse_event,
    parse_timestamp,
)
from stream.settings import EventLimitsSettings

NOW = 1_800_000_000.0
LIMITS = EventLimitsSettings(max_payload_bytes=2_048, max_id_length=32, max_past_s=86_400 * 365)
ORIGIN = MessageOrigin("events.view", 3, 42, timestamp_s=NOW - 5)


def parse(payload: object, action: str = "view", origin: MessageOrigin = ORIGIN) -> object:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return parse_event(raw, action, origin, LIMITS, NOW)


def good(**changes: object) -> dict[str, object]:
    return {"user_id": "u1", "item_id": "i9", "ts": NOW - 60, **changes}


def test_a_valid_event_is_parsed() -> None:
    event = parse(good(event_id="e-1", action="view", extra={"kept": "or ignored"}))
    assert event == Event(user_id="u1", item_id="i9", action="view", ts=NOW - 60, event_id="e-1")


def test_missing_event_id_is_derived_from_the_message_position() -> None:
    event = parse(good())
    assert isinstance(event, Event)
    assert event.event_id == "events.view/3/42"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"x" * 4_096, Reason.PAYLOAD_TOO_LARGE),
        (b'{"user_id": "\xff"}', Reason.NOT_UTF8),
        (b"{not json", Reason.NOT_JSON),
        (b"", Reason.NOT_JSON),
        ([1, 2, 3], Reason.NOT_OBJECT),
        ("just a string", Reason.NOT_OBJECT),
        ({"item_id": "i", "ts": NOW}, Reason.MISSING_FIELD),
        ({"user_id": "u", "ts": NOW}, Reason.MISSING_FIELD),
        (good(user_id=17), Reason.WRONG_TYPE),
        (good(item_id=None), Reason.WRONG_TYPE),
        (good(event_id=5), Reason.WRONG_TYPE),
        (good(ts=[1]), Reason.WRONG_TYPE),
        (good(ts=True), Reason.WRONG_TYPE),
        (good(action=3), Reason.WRONG_TYPE),
        (good(user_id="   "), Reason.EMPTY_ID),
        (good(item_id=""), Reason.EMPTY_ID),
        (good(user_id="u" * 33), Reason.ID_TOO_LONG),
        (good(event_id="e" * 33), Reason.ID_TOO_LONG),
        (good(ts="yesterday"), Reason.BAD_TIMESTAMP),
        (good(ts="2027-01-15T10:00:00"), Reason.BAD_TIMESTAMP),  # no zone
        (b'{"user_id": "u", "item_id": "i", "ts": NaN}', Reason.NOT_JSON),  # strict JSON
        (good(ts=NOW + 7_200), Reason.TIMESTAMP_OUT_OF_RANGE),  # too far ahead
        (good(ts=NOW - 86_400 * 400), Reason.TIMESTAMP_OUT_OF_RANGE),  # older than max_past_s
        (good(ts=15), Reason.TIMESTAMP_OUT_OF_RANGE),  # below the floor
        (good(ts="9999-12-31T23:59:59+00:00"), Reason.TIMESTAMP_OUT_OF_RANGE),
        (good(action="purchase"), Reason.ACTION_MISMATCH),
    ],
)
def test_each_rejection_has_its_reason(payload: object, reason: Reason) -> None:
    result = parse(payload)
    assert isinstance(result, Rejection), result
    assert result.reason == reason
    assert result.detail


def test_non_finite_numbers_are_rejected() -> None:
    assert parse_timestamp(10**400) == Rejection(
        Reason.TIMESTAMP_OUT_OF_RANGE, "ts is out of range"
    )
    for value in (math.inf, -math.inf, math.nan):
        result = parse_timestamp(value)
        assert isinstance(result, Rejection)
        assert result.reason == Reason.NON_FINITE_TIMESTAMP


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, 1_700_000_000.0),
        (1_700_000_000.25, 1_700_000_000.25),
        ("2023-11-14T22:13:20+00:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-15T00:13:20.5+02:00", 1_700_000_000.5),
    ],
)
def test_timestamps_in_seconds_or_iso_with_zone(value: object, expected: float) -> None:
    assert parse_timestamp(value) == pytest.approx(expected)


def test_missing_ts_takes_the_kafka_message_time() -> None:
    event = parse({"user_id": "u", "item_id": "i"})
    assert isinstance(event, Event)
    assert event.ts == ORIGIN.timestamp_s


def test_missing_ts_without_message_time_is_rejected() -> None:
    origin = MessageOrigin("events.view", 0, 1, timestamp_s=None)
    result = parse({"user_id": "u", "item_id": "i"}, origin=origin)
    assert isinstance(result, Rejection)
    assert result.reason == Reason.MISSING_FIELD


def test_action_field_agreeing_with_the_topic_is_accepted() -> None:
    assert isinstance(parse(good(action="click"), action="click"), Event)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=3_000))
def test_no_bytes_make_the_parser_raise(raw: bytes) -> None:
    result = parse_event(raw, "view", ORIGIN, LIMITS, NOW)
    assert isinstance(result, Event | Rejection)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "user_id": json_values,
            "item_id": json_values,
            "ts": json_values | st.datetimes().map(lambda d: d.isoformat()),
            "event_id": json_values,
            "action": st.sampled_from(["view", "click", "purchase"]) | json_values,
        },
    )
)
def test_no_json_object_makes_the_parser_raise(payload: dict[str, object]) -> None:
    result = parse_event(orjson.dumps(payload), "view", ORIGIN, LIMITS, NOW)
    assert isinstance(result, Event | Rejection)
    if isinstance(result, Event):
        assert result.user_id and result.item_id and math.isfinite(result.ts)
