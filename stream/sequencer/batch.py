"""One micro-batch of raw event messages -> dead letters, window writes, sequence updates.

Plain code with no Faust in it: the agent in :mod:`stream.sequencer.app` only wires
this to Kafka, and the tests drive it directly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stream.messages.dead_letter import dead_letter_record
from stream.messages.events import Event, MessageOrigin, Reason, Rejection, parse_event
from stream.messages.sequence_update import SequenceUpdate
from stream.messages.window import Window, apply_events
from stream.settings import EventLimitsSettings, WindowSettings


@dataclass(frozen=True, slots=True)
class RawMessage:
    """The parts of a Kafka message the sequencer looks at."""

    topic: str
    partition: int
    offset: int
    timestamp_s: float | None
    key: bytes | None
    value: bytes | None

    @property
    def origin(self) -> MessageOrigin:
        return MessageOrigin(self.topic, self.partition, self.offset, self.timestamp_s)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    record: bytes
    reason: Reason
    source_topic: str


@dataclass(frozen=True, slots=True)
class WindowWrite:
    user_id: str
    state: dict[str, Any]
    message_index: int  # a message of this user in the batch: its partition owns the key


@dataclass
class BatchResult:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    writes: list[WindowWrite] = field(default_factory=list)
    updates: list[SequenceUpdate] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)  # of each update: its events' partition
    accepted: Counter[str] = field(default_factory=Counter)  # by source topic
    duplicates: int = 0

    def updates_by_partition(self) -> dict[int, list[SequenceUpdate]]:
        out: dict[int, list[SequenceUpdate]] = {}
        for partition, update in zip(self.partitions, self.updates, strict=True):
            out.setdefault(partition, []).append(update)
        return out


def _validate(
    message: RawMessage, action: str, limits: EventLimitsSettings, now: float
) -> Event | Rejection:
    event = parse_event(message.value, action, message.origin, limits, now)
    # Windows live in the partition of the user's key; an event keyed otherwise
    # would split a user's history across partitions (and workers).
    if (
        isinstance(event, Event)
        and message.key is not None
        and message.key != event.user_id.encode()
    ):
        return Rejection(Reason.KEY_MISMATCH, "message key differs from user_id")
    return event


def process_batch(
    messages: Sequence[RawMessage],
    actions_by_topic: Mapping[str, str],
    load_window: Callable[[str, int], dict[str, Any] | None],
    limits: EventLimitsSettings,
    window_settings: WindowSettings,
    now: float,
) -> BatchResult:
    """Validate every message, update each touched user's window once, emit one update each.

    ``load_window(user_id, index)``: the user's stored window state, or None; ``index`` is
    one of that user's messages in ``messages`` (its partition holds the window)."""
    result = BatchResult()
    by_user: dict[str, list[Event]] = defaultdict(list)
    last_index: dict[str, int] = {}
    ingest_ts: dict[str, float] = {}
    for index, message in enumerate(messages):
        event = _validate(message, actions_by_topic[message.topic], limits, now)
        if isinstance(event, Rejection):
            record = dead_letter_record(
                event, message.value, message.origin, limits.deadletter_raw_max_bytes
            )
            result.dead_letters.append(DeadLetter(message.key, record, event.reason, message.topic))
            continue
        result.accepted[message.topic] += 1
        by_user[event.user_id].append(event)
        last_index[event.user_id] = index
        kafka_ts = message.timestamp_s if message.timestamp_s is not None else now
        ingest_ts[event.user_id] = max(ingest_ts.get(event.user_id, 0.0), kafka_ts)

    for user_id, events in by_user.items():
        change = apply_events(
            Window.from_state(load_window(user_id, last_index[user_id])),
            events,
            window_settings.max_events,
            window_settings.max_age_s,
        )
        result.duplicates += change.duplicates
        if change.added:
            result.writes.append(
                WindowWrite(user_id, change.window.to_state(), last_index[user_id])
            )
        if change.new_count:
            result.updates.append(
                SequenceUpdate.from_window(
                    user_id, change.window, change.new_count, ingest_ts[user_id], now
                )
            )
            result.partitions.append(messages[last_index[user_id]].partition)
    return result
