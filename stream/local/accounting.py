"""Nothing lost, proven by accounting: every produced event is in a window or a dead
letter, no window holds an event twice, every user's final window is the one the
produced events make, the user's last recommendation reflects the newest of them, and
no user ever sees a model version go down. An event outside its user's final window
that no window ever showed was trimmed in the micro-batch that brought it (more events
of one user than a window holds); it is counted apart, since no topic can tell that
from a loss, and the final windows still prove every event that is due in them.

Every fault test and benchmark ends with :func:`account_topics` (it reads the sequence,
dead-letter and recommendation topics whole); the pure :func:`account` is what it
computes, tested without a broker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from stream.kafka.topic_reader import read_topic
from stream.messages.events import Event
from stream.messages.sequence_batch import read_updates
from stream.messages.window import Window, apply_events
from stream.settings import Settings, WindowSettings


@dataclass
class Accounting:
    produced: int
    in_windows: int = 0
    dead_lettered: int = 0
    missing: list[str] = field(default_factory=list)  # in no window nor dead letter, but due
    # in no window, yet outside its user's final window: trimmed in the same micro-batch
    # that brought it (more than window.max_events events of one user), so never shown
    trimmed_unseen: int = 0
    doubled: list[str] = field(default_factory=list)  # twice in one window
    wrong_windows: list[str] = field(default_factory=list)  # users: final window differs
    stale_users: list[str] = field(default_factory=list)  # last rec misses the newest event
    version_drops: list[str] = field(default_factory=list)  # users: a version not above the last
    users: int = 0
    recommendations: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubled or self.wrong_windows or self.stale_users
                    or self.version_drops)  # fmt: skip

    def summary(self) -> str:
        def few(items: list[str]) -> str:
            return f"{len(items)}" + (f" (e.g. {items[:3]})" if items else "")

        return (f"{self.produced} produced: {self.in_windows} in windows, {self.dead_lettered} "
                f"dead-lettered, {self.trimmed_unseen} trimmed before shown, missing "
                f"{few(self.missing)}, doubled {few(self.doubled)}; "
                f"{self.users} users: wrong final window {few(self.wrong_windows)}, newest "
                f"event not recommended {few(self.stale_users)}, versions not increasing "
                f"{few(self.version_drops)}; {self.recommendations} recommendations")  # fmt: skip


def _dead_letter_event_id(record: bytes) -> str | None:
    """The event id inside a dead letter's raw payload, when it has one."""
    try:
        raw = orjson.loads(record).get("raw")
        value = orjson.loads(raw) if isinstance(raw, str) else None
    except (orjson.JSONDecodeError, AttributeError):
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    return event_id if isinstance(event_id, str) else None


def account(
    produced: Sequence[Event],
    sequences: Iterable[bytes],
    dead_letters: Iterable[bytes],
    recommendations: Iterable[bytes],
    window: WindowSettings,
) -> Accounting:
    """Check the three topics (each in topic order) against the events produced."""
    result = Accounting(produced=len(produced))
    dead = {i for i in map(_dead_letter_event_id, dead_letters) if i is not None}
    seen: set[str] = set()
    final: dict[str, list[str]] = {}
    for update in (update for value in sequences for update in read_updates(value)):
        seen.update(update.event_ids)
        final[update.user_id] = update.event_ids
        if len(set(update.event_ids)) != len(update.event_ids):
            result.doubled.extend(i for i in set(update.event_ids)
                                  if update.event_ids.count(i) > 1)  # fmt: skip
    accepted: dict[str, list[Event]] = defaultdict(list)
    for event in produced:
        if event.event_id in dead:
            result.dead_lettered += 1
        else:
            result.in_windows += event.event_id in seen
            accepted[event.user_id].append(event)
    newest: dict[str, str] = {}
    for user, events in accepted.items():
        expected = apply_events(Window(), events, window.max_events, window.max_age_s).window
        newest[user] = expected.ids[-1]
        if final.get(user) != expected.ids:
            result.wrong_windows.append(user)
        due = set(expected.ids)
        for event in events:
            if event.event_id not in seen:
                if event.event_id in due:
                    result.missing.append(event.event_id)
                else:
                    result.trimmed_unseen += 1
    result.users = len(accepted)
    last_rec: dict[str, tuple[str, int]] = {}
    for value in recommendations:
        rec = orjson.loads(value)
        user, version = rec["user_id"], int(rec["model_version"])
        result.recommendations += 1
        previous = last_rec.get(user)
        if previous is not None and version <= previous[1]:
            result.version_drops.append(f"{user}: {previous[1]} -> {version}")
        last_rec[user] = (rec["event_id"], version)
    result.stale_users = sorted(u for u, eid in newest.items() if last_rec.get(u, ("",))[0] != eid)
    return result


def account_topics(settings: Settings, produced: Sequence[Event]) -> Accounting:
    """:func:`account` over the live topics of ``settings``."""
    topics = settings.topics

    def values(topic: str) -> list[bytes]:
        # Per partition in offset order; a user's messages share one partition.
        return [value for _k, value, _p, _o in read_topic(settings, topic, timeout_s=60)]

    return account(produced, values(topics.sequences), values(topics.deadletter),
                   values(topics.recommendations), settings.window)  # fmt: skip


def produced_events(settings: Settings) -> list[Event]:
    """What the event topics hold, as events (read back: exactly what was sent)."""
    events = []
    for action, topic in settings.topics.events.items():
        for _k, value, _p, _o in read_topic(settings, topic, timeout_s=60):
            data = orjson.loads(value)
            events.append(Event(data["user_id"], data["item_id"], action, float(data["ts"]),
                                data["event_id"]))  # fmt: skip
    return events
