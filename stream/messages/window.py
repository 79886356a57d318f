"""The per-user behaviour window: the last L events, ordered by time, no duplicates.

Pure functions over a JSON-friendly state, so the Faust table can store it and the
tests need no broker. Order is (ts, event_id): ties between topics are broken the
same way on every run, which makes a window a function of the *set* of events seen,
whatever their arrival order (a restarted worker rebuilds the same windows).
Age is measured against the newest event in the window, not the wall clock, for
the same reason.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stream.messages.events import Event


@dataclass(slots=True)
class Window:
    items: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> Window:
        if not state:
            return cls()
        return cls(
            list(state["items"]), list(state["actions"]), list(state["ts"]), list(state["ids"])
        )

    def to_state(self) -> dict[str, Any]:
        return {"items": self.items, "actions": self.actions, "ts": self.ts, "ids": self.ids}


@dataclass(frozen=True, slots=True)
class WindowChange:
    window: Window
    added: int  # events placed in the window (before trimming)
    duplicates: int  # events whose id the window already held
    new_count: int  # trailing positions that hold or follow an event of this batch


def apply_events(
    window: Window, events: Iterable[Event], max_events: int, max_age_s: float
) -> WindowChange:
    """Place ``events`` (one user's) into ``window`` and trim it; returns the change.

    A redelivered event (its id already present) is not added again, but its
    position still counts as new: after a crash the sequence update that carried
    it may never have been published, so it is published again (at least once).
    """
    keys = list(zip(window.ts, window.ids, strict=True))
    present = set(window.ids)
    touched: set[str] = set()
    added = duplicates = 0
    for event in events:
        touched.add(event.event_id)
        if event.event_id in present:
            duplicates += 1
            continue
        key = (event.ts, event.event_id)
        index = bisect_left(keys, key)
        keys.insert(index, key)
        window.items.insert(index, event.item_id)
        window.actions.insert(index, event.action)
        window.ts.insert(index, event.ts)
        window.ids.insert(index, event.event_id)
        present.add(event.event_id)
        added += 1
    _trim(window, max_events, max_age_s)
    first_touched = next((i for i, eid in enumerate(window.ids) if eid in touched), len(window))
    return WindowChange(window, added, duplicates, len(window) - first_touched)


def _trim(window: Window, max_events: int, max_age_s: float) -> None:
    if not window.ts:
        return
    cutoff = window.ts[-1] - max_age_s
    start = max(len(window) - max_events, bisect_left(window.ts, cutoff))
    if start > 0:
        del window.items[:start], window.actions[:start], window.ts[:start], window.ids[:start]
