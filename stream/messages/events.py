"""Parse and validate raw behaviour events. Bad input is data, never an exception.

:func:`parse_event` turns the bytes of one Kafka message into either an
:class:`Event` or a :class:`Rejection` with a stable reason code; it never raises
(a hypothesis test feeds it arbitrary bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

import orjson

from stream.settings import EventLimitsSettings


class RawEvent(TypedDict):
    """An event as producers write it (and as the data-set readers yield it)."""

    user_id: str
    item_id: str
    action: str
    ts: float


class Reason(StrEnum):
    """Why an event was rejected; the codes are stable (dashboards and alerts use them)."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    EMPTY_ID = "empty_id"
    ID_TOO_LONG = "id_too_long"
    BAD_TIMESTAMP = "bad_timestamp"
    NON_FINITE_TIMESTAMP = "non_finite_timestamp"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    ACTION_MISMATCH = "action_mismatch"
    KEY_MISMATCH = "key_mismatch"  # the message key must be the user id (co-partitioning)


@dataclass(frozen=True, slots=True)
class Event:
    user_id: str
    item_id: str
    action: str
    ts: float
    event_id: str


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class MessageOrigin:
    """Where a message came from; also the fallback event id (stable under redelivery)."""

    topic: str
    partition: int
    offset: int
    timestamp_s: float | None  # the Kafka message timestamp, used when ts is missing

    @property
    def derived_event_id(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


def parse_timestamp(value: Any) -> float | Rejection:
    """Epoch seconds (int or float) or an ISO-8601 string with a zone, as epoch seconds."""
    if isinstance(value, bool):
        return Rejection(Reason.WRONG_TYPE, "ts must be a number or an ISO-8601 string")
    if isinstance(value, int | float):
        try:
            ts = float(value)
        except OverflowError:  # a JSON integer beyond float range
            return Rejection(Reason.TIMESTAMP_OUT_OF_RANGE, "ts is out of range")
        if not math.isfinite(ts):
            return Rejection(Reason.NON_FINITE_TIMESTAMP, f"ts is {value!r}")
        return ts
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return Rejection(Reason.BAD_TIMESTAMP, f"ts {value[:64]!r} is not ISO-8601")
        if parsed.tzinfo is None:
            return Rejection(Reason.BAD_TIMESTAMP, f"ts {value[:64]!r} has no time zone")
        try:
            return parsed.timestamp()
        except (OverflowError, OSError, ValueError):
            return Rejection(Reason.TIMESTAMP_OUT_OF_RANGE, f"ts {value[:64]!r} out of range")
    return Rejection(Reason.WRONG_TYPE, "ts must be a number or an ISO-8601 string")


def _check_id(payload: dict[str, Any], field: str, limits: EventLimitsSettings) -> str | Rejection:
    value = payload[field]
    if not isinstance(value, str):
        return Rejection(Reason.WRONG_TYPE, f"{field} must be a string, got {type(value).__name__}")
    if not value.strip():
        return Rejection(Reason.EMPTY_ID, f"{field} is empty")
    if len(value) > limits.max_id_length:
        return Rejection(
            Reason.ID_TOO_LONG,
            f"{field} has {len(value)} characters (limit {limits.max_id_length})",
        )
    return value


def decode_object(raw: bytes, max_payload_bytes: int) -> dict[str, Any] | Rejection:
    """One JSON object from a message's bytes (events, catalogue records), or why not."""
    if len(raw) > max_payload_bytes:
        return Rejection(Reason.PAYLOAD_TOO_LARGE, f"{len(raw)} bytes (limit {max_payload_bytes})")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(Reason.NOT_UTF8, f"invalid UTF-8 at byte {exc.start}")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection(Reason.NOT_JSON, str(exc)[:200])
    if not isinstance(payload, dict):
        return Rejection(Reason.NOT_OBJECT, f"top level is a JSON {type(payload).__name__}")
    return payload


def _check_range(ts: float, now: float, limits: EventLimitsSettings) -> Rejection | None:
    if ts < limits.ts_floor:
        return Rejection(Reason.TIMESTAMP_OUT_OF_RANGE, f"ts {ts} is before {limits.ts_floor}")
    if ts > now + limits.max_future_s:
        return Rejection(
            Reason.TIMESTAMP_OUT_OF_RANGE, f"ts {ts} is more than {limits.max_future_s}s ahead"
        )
    if limits.max_past_s is not None and ts < now - limits.max_past_s:
        return Rejection(
            Reason.TIMESTAMP_OUT_OF_RANGE, f"ts {ts} is more than {limits.max_past_s}s old"
        )
    return None


def parse_event(
    raw: bytes | None,
    action: str,
    origin: MessageOrigin,
    limits: EventLimitsSettings,
    now: float,
) -> Event | Rejection:
    """Validate one message from the topic of ``action``; ``now`` is injected (epoch s)."""
    payload = decode_object(raw if raw is not None else b"", limits.max_payload_bytes)
    if isinstance(payload, Rejection):
        return payload
    for field in ("user_id", "item_id"):
        if field not in payload:
            return Rejection(Reason.MISSING_FIELD, f"{field} is missing")
    user_id = _check_id(payload, "user_id", limits)
    if isinstance(user_id, Rejection):
        return user_id
    item_id = _check_id(payload, "item_id", limits)
    if isinstance(item_id, Rejection):
        return item_id

    if "event_id" in payload and payload["event_id"] is not None:
        event_id = _check_id(payload, "event_id", limits)
        if isinstance(event_id, Rejection):
            return event_id
    else:
        event_id = origin.derived_event_id

    claimed = payload.get("action")
    if claimed is not None:
        if not isinstance(claimed, str):
            return Rejection(Reason.WRONG_TYPE, "action must be a string")
        if claimed != action:
            return Rejection(
                Reason.ACTION_MISMATCH, f"action {claimed[:32]!r} on the topic of {action!r}"
            )

    if payload.get("ts") is not None:
        ts = parse_timestamp(payload["ts"])
        if isinstance(ts, Rejection):
            return ts
    elif origin.timestamp_s is not None:
        ts = origin.timestamp_s
    else:
        return Rejection(Reason.MISSING_FIELD, "ts is missing and the message has no timestamp")
    out_of_range = _check_range(ts, now, limits)
    if out_of_range is not None:
        return out_of_range
    return Event(user_id=user_id, item_id=item_id, action=action, ts=ts, event_id=event_id)
