"""What the trainer learns from: sequence updates merged into one window per user.

Plain functions (no Kafka, no torch) so batching is tested without a broker. A user
can have several updates waiting (a burst, or micro-batches that queued while a step
ran); the newest window holds all of that user's events, and the union of the
updates' new events decides how many of its trailing positions are new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from model.contract import UserSequence
from stream.messages.sequence_update import SequenceUpdate


@dataclass(frozen=True, slots=True)
class MergedUpdate:
    """One user's newest window plus every waiting update it stands for."""

    sequence: UserSequence
    newest: SequenceUpdate
    updates: tuple[SequenceUpdate, ...]  # all merged updates, oldest first
    tags: tuple[Any, ...] = ()  # what the caller attached to each update (its Kafka message)


def _new_ids(update: SequenceUpdate) -> list[str]:
    return update.event_ids[len(update.event_ids) - update.new_count :]


def merge_user_updates(updates: list[SequenceUpdate], tags: tuple[Any, ...] = ()) -> MergedUpdate:
    """Merge one user's updates (in the order they were read: oldest first)."""
    newest = updates[-1]
    new_ids: set[str] = set()
    for update in updates:
        new_ids.update(_new_ids(update))
    # Trailing positions that hold or follow any new event (a late event sorts into
    # the middle of the window and makes everything after it new context too).
    first_new = next(
        (i for i, event_id in enumerate(newest.event_ids) if event_id in new_ids),
        len(newest.event_ids),
    )
    sequence = UserSequence(
        user_id=newest.user_id,
        items=newest.items,
        actions=newest.actions,
        ts=newest.ts,
        new_count=len(newest.event_ids) - first_new,
    )
    return MergedUpdate(sequence, newest, tuple(updates), tags)


@dataclass
class PendingUpdates:
    """Updates read but not yet learned, grouped by user in arrival order.

    ``take`` hands out at most ``limit`` users, the ones waiting longest first, so a
    user is never starved by a busy stream of others. Each update may carry a tag
    (the trainer attaches its Kafka message, to acknowledge once learned).
    """

    by_user: dict[str, list[tuple[SequenceUpdate, Any]]] = field(default_factory=dict)
    count: int = 0  # updates waiting (a user may have several)

    def add(self, updates: Iterable[tuple[SequenceUpdate, Any]]) -> None:
        for update, tag in updates:
            waiting = self.by_user.get(update.user_id)
            if waiting is None:
                self.by_user[update.user_id] = [(update, tag)]
            else:
                waiting.append((update, tag))
            self.count += 1

    @property
    def users(self) -> int:
        return len(self.by_user)

    def take(self, limit: int) -> list[MergedUpdate]:
        taken = []
        for user in list(self.by_user)[:limit]:  # dicts keep insertion order
            entries = self.by_user.pop(user)
            self.count -= len(entries)
            updates = [update for update, _tag in entries]
            taken.append(merge_user_updates(updates, tuple(tag for _u, tag in entries)))
        return taken

    def drop(self, unwanted: Callable[[Any], bool]) -> int:
        """Forget the waiting updates whose tag is ``unwanted``; returns how many."""
        dropped = 0
        for user in list(self.by_user):
            kept = [(update, tag) for update, tag in self.by_user[user] if not unwanted(tag)]
            dropped += len(self.by_user[user]) - len(kept)
            if kept:
                self.by_user[user] = kept
            else:
                del self.by_user[user]
        self.count -= dropped
        return dropped
