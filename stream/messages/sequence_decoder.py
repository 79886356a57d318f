"""The trainer's typed decoder of ``recstream.sequences`` messages (batches of updates,
:mod:`stream.messages.sequence_batch`, or one bare update).

Anyone who can write the topic controls what the trainer reads, and a window the
learner cannot take (a timestamp as a string, ``new_count`` 1.5, ±1.7e308) used to
stop the step loop for good. Every field is checked here, by type (strict: no
string-to-number coercion), finiteness, range and size, and a message that fails
becomes an :class:`UpdateRejection` with a stable reason code for the dead-letter
topic; it never reaches the learner. pydantic parses the JSON bytes directly. A bad
update in a batch is refused alone: the others of its message are learned.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from stream.messages.sequence_update import SequenceUpdate

# Epoch seconds up to the year 5138: wide enough for any clock, and every value is
# finite and non-negative, so sorting, differences and embeddings of times stay defined.
Timestamp = Annotated[float, Field(ge=0.0, le=1e11)]


class UpdateReason(StrEnum):
    """Why the trainer refused a sequence update; stable codes for dashboards."""

    NOT_JSON = "sequence_not_json"
    WRONG_TYPE = "sequence_wrong_type"  # a field missing or of the wrong JSON type
    OUT_OF_RANGE = "sequence_out_of_range"  # a number not finite or outside its range
    INCONSISTENT = "sequence_inconsistent"  # lengths, sizes, ids or actions that disagree
    STEP_FAILED = "sequence_step_failed"  # decoded, yet the learner's step failed on it


@dataclass(frozen=True, slots=True)
class UpdateRejection:
    reason: UpdateReason
    detail: str


@dataclass(frozen=True, slots=True)
class UpdateLimits:
    max_events: int
    max_id_length: int
    actions: Collection[str]  # the configured action names (the event topics' keys)


class _Wire(BaseModel):
    # Unknown fields are ignored so a newer sequencer can add some without stopping
    # older trainers; every known field is required and strictly typed.
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")

    user_id: StrictStr
    items: list[StrictStr]
    actions: list[StrictStr]
    ts: list[Timestamp]
    event_ids: list[StrictStr]
    new_count: int
    event_id: StrictStr
    event_ts: Timestamp
    ingest_ts: Timestamp
    emitted_ts: Timestamp


class _WireBatch(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")

    updates: list[_Wire]


@dataclass
class DecodedMessage:
    """What one message of the topic holds: the updates to learn, and each refused
    part with the bytes to dead-letter."""

    updates: list[SequenceUpdate] = field(default_factory=list)
    rejected: list[tuple[bytes, UpdateRejection]] = field(default_factory=list)

    def add(self, raw: bytes, decoded: SequenceUpdate | UpdateRejection) -> None:
        """File one decoded update (``raw``: its bytes, dead-lettered if refused)."""
        if isinstance(decoded, UpdateRejection):
            self.rejected.append((raw, decoded))
        else:
            self.updates.append(decoded)


_RANGE_ERRORS = {"finite_number", "greater_than_equal", "less_than_equal", "greater_than",
                 "less_than"}  # fmt: skip


def _from_validation_error(exc: ValidationError) -> UpdateRejection:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    kinds = {error["type"] for error in errors}
    if kinds & {"json_invalid", "json_type"}:
        reason = UpdateReason.NOT_JSON
    elif kinds <= _RANGE_ERRORS:
        reason = UpdateReason.OUT_OF_RANGE
    else:
        reason = UpdateReason.WRONG_TYPE
    where = ".".join(str(part) for part in first["loc"]) or "message"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return UpdateRejection(reason, f"{where}: {first['msg']}{more}")


def _inconsistency(wire: _Wire, limits: UpdateLimits) -> str | None:
    n = len(wire.items)
    if not len(wire.actions) == len(wire.ts) == len(wire.event_ids) == n:
        return "items, actions, ts and event_ids differ in length"
    if not 1 <= n <= limits.max_events:
        return f"{n} events (limit window.max_events = {limits.max_events})"
    if not 0 <= wire.new_count <= n:
        return f"new_count {wire.new_count} outside 0..{n}"
    lengths = [len(wire.user_id), len(wire.event_id), *map(len, wire.items),
               *map(len, wire.event_ids)]  # fmt: skip
    if min(lengths) < 1 or max(lengths) > limits.max_id_length:
        return f"an id that is empty or longer than {limits.max_id_length} characters"
    unknown = set(wire.actions).difference(limits.actions)
    if unknown:
        return f"unknown actions {sorted(unknown)[:3]} (configured: {sorted(limits.actions)})"
    if wire.event_id != wire.event_ids[-1]:
        return "event_id is not the newest event of the window"
    return None


def decode_update(raw: bytes | None, limits: UpdateLimits) -> SequenceUpdate | UpdateRejection:
    """One update's JSON as a :class:`SequenceUpdate`, or why it cannot be one."""
    try:
        wire = _Wire.model_validate_json(raw or b"")
    except ValidationError as exc:
        return _from_validation_error(exc)
    return _checked(wire, limits)


def decode_message(raw: bytes | None, limits: UpdateLimits) -> DecodedMessage:
    """A message's value: a batch ``{"updates": [...]}`` or one bare update."""
    out = DecodedMessage()
    try:
        # The common case in one pass of pydantic's parser: a batch that is all good.
        batch = _WireBatch.model_validate_json(raw or b"")
    except ValidationError:
        return _decode_slowly(raw or b"", limits)
    for wire in batch.updates:
        decoded = _checked(wire, limits)
        if isinstance(decoded, UpdateRejection):  # its bytes only when they are dead-lettered
            out.rejected.append((orjson.dumps(wire.model_dump()), decoded))
        else:
            out.updates.append(decoded)
    return out


def _decode_slowly(raw: bytes, limits: UpdateLimits) -> DecodedMessage:
    """A message that is not a valid batch: one bare update, or a batch with bad
    updates in it (each decoded alone, so only those are refused), or neither."""
    out = DecodedMessage()
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not (isinstance(data, dict) and "updates" in data):
        out.add(raw, decode_update(raw, limits))  # names the problem of a non-batch precisely
        return out
    if not isinstance(data["updates"], list):
        out.rejected.append((raw, UpdateRejection(UpdateReason.WRONG_TYPE,
                                                  "updates: not a list")))  # fmt: skip
        return out
    for element in data["updates"]:
        part = orjson.dumps(element)
        out.add(part, decode_update(part, limits))
    return out


def _checked(wire: _Wire, limits: UpdateLimits) -> SequenceUpdate | UpdateRejection:
    problem = _inconsistency(wire, limits)
    if problem is not None:
        return UpdateRejection(UpdateReason.INCONSISTENT, problem)
    # The validated lists themselves, not model_dump()'s copies: one decode per update.
    return SequenceUpdate(
        user_id=wire.user_id, items=wire.items, actions=wire.actions, ts=wire.ts,
        event_ids=wire.event_ids, new_count=wire.new_count, event_id=wire.event_id,
        event_ts=wire.event_ts, ingest_ts=wire.ingest_ts, emitted_ts=wire.emitted_ts,
    )  # fmt: skip
