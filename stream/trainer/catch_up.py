"""Which sequences a step learns from, and the over-budget ones kept to learn later.

When the stream outruns training, a step ranks and recommends for every user it took
but learns only what fits its budget. The rest waits here, oldest first, and is
learned by small steps that run only while no update waits (a fraction of a step's
budget each, so an update arriving meanwhile is delayed little): a burst makes the
model fall behind for a while instead of losing what users did. Catching up still
takes CPU the sequencer and the broker could use on a small machine (bench/NOTES.md).

Sequences with new targets always come before the learner's replay (the learner only
replays within what is left of the limit). A user queued again, or trained fresh
while queued, is merged into one window whose new events cover both (windows of one
user are consecutive). The queue is bounded by the events its windows hold (memory
follows window length, not users: a Taobao window has one or two events, a session's
up to 50): past ``max_events`` the oldest sequences are dropped for good, and counted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from model.contract import UserSequence

# A step that only catches up learns this share of a full step's limit: an update that
# arrives meanwhile waits at most about that share of the training budget.
CATCH_UP_SHARE = 0.25
# ... or this many sequences while no budget is known yet (the first steps).
UNBOUNDED_TAKE = 256


def merged(newer: UserSequence, older: UserSequence) -> UserSequence:
    """``newer``'s window with the new events of both (those still inside the window)."""
    return replace(newer, new_count=min(len(newer.items), newer.new_count + older.new_count))


def merge_by_user(oldest_first: Sequence[UserSequence]) -> list[UserSequence]:
    """One window per user: its newest, with the new events of all (first-seen order)."""
    by_user: dict[str, UserSequence] = {}
    for sequence in oldest_first:
        older = by_user.get(sequence.user_id)
        by_user[sequence.user_id] = sequence if older is None else merged(sequence, older)
    return list(by_user.values())


@dataclass
class Choice:
    """What one step learns: ``train`` (this step's own, or queued ones when it only
    catches up)."""

    train: list[UserSequence]
    deferred: int  # of this step's sequences, queued for later
    caught_up: int  # deferred sequences learned now (alone, or inside a newer window)
    dropped: int  # deferred sequences pushed out of a full queue (never learned)
    taken: int = 0  # entries of ``train`` taken from the queue (at its end)


class CatchUpQueue:
    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.events = 0  # window events held by the waiting sequences
        # user -> (window, deferred sequences it stands for: merged ones count each)
        self._waiting: OrderedDict[str, tuple[UserSequence, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._waiting)

    def choose(self, fresh: Sequence[UserSequence], limit: int | None) -> Choice:
        """Split a step's sequences into learned now (at most ``limit``; None: all) and
        queued for later. A user learned now takes its queued events along."""
        room = len(fresh) if limit is None else max(limit, 0)
        now, later = list(fresh[:room]), fresh[room:]
        caught_up = 0
        for index, sequence in enumerate(now):
            queued = self._pop(sequence.user_id)
            if queued is not None:
                now[index] = merged(sequence, queued[0])
                caught_up += queued[1]
        dropped = sum(self._queue(sequence) for sequence in later)
        return Choice(now, len(later), caught_up, dropped)

    def take(self, limit: int | None) -> Choice:
        """A step with nothing new: the oldest queued sequences, a share of ``limit``."""
        size = UNBOUNDED_TAKE if limit is None else max(1, int(limit * CATCH_UP_SHARE))
        taken = [self._pop_oldest() for _ in range(min(size, len(self)))]
        return Choice([sequence for sequence, _ in taken], 0, sum(n for _, n in taken), 0,
                      taken=len(taken))  # fmt: skip

    def give_back(self, sequences: Sequence[UserSequence]) -> int:
        """Queue again sequences a failed step did not learn; returns how many were dropped."""
        return sum(self._queue(sequence) for sequence in sequences)

    def _queue(self, sequence: UserSequence) -> int:
        """Queue ``sequence`` (merged with the user's waiting one); returns how many of
        the oldest that pushed out of a full queue."""
        queued = self._pop(sequence.user_id)
        waiting = (merged(sequence, queued[0]), queued[1] + 1) if queued else (sequence, 1)
        self._waiting[sequence.user_id] = waiting
        self.events += len(waiting[0].items)
        dropped = 0
        while self.events > self.max_events and self._waiting:
            dropped += self._pop_oldest()[1]
        return dropped

    def _pop(self, user_id: str) -> tuple[UserSequence, int] | None:
        entry = self._waiting.pop(user_id, None)
        if entry is not None:
            self.events -= len(entry[0].items)
        return entry

    def _pop_oldest(self) -> tuple[UserSequence, int]:
        entry = self._waiting.popitem(last=False)[1]
        self.events -= len(entry[0].items)
        return entry
