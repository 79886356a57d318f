"""Stream an events file through a learner in time order, in micro-batches, exactly as
the trainer service will (sequencer windows -> newest update per user -> learn), and
measure prequential quality: every event is ranked before the model learns it."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from model.contract import Learner, StepReport, UserSequence
from model.ranking_metrics import AGE_BUCKETS, RankingSums
from stream.messages.events import Event, RawEvent
from stream.messages.window import Window, apply_events


@dataclass
class ReplayResult:
    events: int = 0
    evaluated: int = 0
    cold: int = 0  # events whose item had never appeared before in the stream
    overall: RankingSums = field(default_factory=RankingSums)
    per_action: dict[str, RankingSums] = field(default_factory=dict)
    per_age: dict[str, RankingSums] = field(default_factory=dict)  # by the item's age in events
    curve: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0
    train_s: float = 0.0
    eval_s: float = 0.0
    trained_positions: int = 0
    steps: int = 0
    skipped_steps: int = 0

    def as_report(self, model: str, settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": model,
            "events": self.events,
            "evaluated": self.evaluated,
            "cold": self.cold,
            "metrics": {
                "overall": self.overall.means(),
                "per_action": {
                    a: s.means() | {"count": s.count} for a, s in self.per_action.items()
                },
                "per_age": {
                    name: self.per_age[name].means() | {"count": self.per_age[name].count}
                    for name, _upper in AGE_BUCKETS
                    if name in self.per_age
                },
            },
            "throughput": {
                "events_per_s": self.events / max(self.wall_s, 1e-9),
                "train_samples_per_s": self.trained_positions / max(self.train_s, 1e-9),
                "wall_s": self.wall_s,
                "train_s": self.train_s,
                "eval_s": self.eval_s,
            },
            "steps": self.steps,
            "skipped_steps": self.skipped_steps,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "curve": self.curve,
            "settings": settings,
        }


def micro_batches(
    events: Sequence[RawEvent], batch_events: int, max_events: int, max_age_s: float
) -> Iterator[tuple[list[UserSequence], int]]:
    """Yield (list of UserSequence, events in it), as the sequencer + trainer would form them.

    A batch closes at ``batch_events`` events, or earlier when one user has a full
    window of new events (so no event leaves the window before it is learned).
    """
    windows: dict[str, Window] = {}
    pending: dict[str, list[Event]] = {}
    size = 0
    for index, raw in enumerate(events):
        event = Event(raw["user_id"], raw["item_id"], raw["action"], raw["ts"], f"r{index}")
        pending.setdefault(event.user_id, []).append(event)
        size += 1
        if size >= batch_events or len(pending[event.user_id]) >= max_events:
            yield _close(pending, windows, max_events, max_age_s), size
            pending, size = {}, 0
    if pending:
        yield _close(pending, windows, max_events, max_age_s), size


def _close(
    pending: dict[str, list[Event]], windows: dict[str, Window], max_events: int, max_age_s: float
) -> list[UserSequence]:
    batch = []
    for user, user_events in pending.items():
        change = apply_events(windows.get(user) or Window(), user_events, max_events, max_age_s)
        windows[user] = change.window
        w = change.window
        batch.append(
            UserSequence(user, list(w.items), list(w.actions), list(w.ts), change.new_count)
        )
    return batch


def replay(
    learner: Learner,
    events: Sequence[RawEvent],
    batch_events: int,
    max_events: int,
    max_age_s: float,
    on_progress: Callable[[int, ReplayResult], None] = lambda _n, _r: None,
    curve_points: int = 50,
    before_step: Callable[[int], None] | None = None,
) -> ReplayResult:
    """``before_step(end)``: called before each step with the index just past the step's
    last event (e.g. to hand the learner catalogue records that arrive by then)."""
    result = ReplayResult(events=len(events))
    seen: set[str] = set()
    window_sums = RankingSums()
    curve_every = max(1, len(events) // curve_points)
    done = 0
    started = time.perf_counter()
    for batch, batch_size in micro_batches(events, batch_events, max_events, max_age_s):
        for seq in batch:  # cold: first appearance of the item anywhere in the stream
            for item in seq.items[len(seq.items) - seq.new_count :]:
                if item not in seen:
                    result.cold += 1
                    seen.add(item)
        if before_step is not None:
            before_step(done + batch_size)
        report: StepReport = learner.learn(batch)
        result.evaluated += report.evaluated
        result.overall.merge(report.overall)
        window_sums.merge(report.overall)
        for action, sums in report.per_action.items():
            result.per_action.setdefault(action, RankingSums()).merge(sums)
        for age, sums in report.per_age.items():
            result.per_age.setdefault(age, RankingSums()).merge(sums)
        result.train_s += report.train_s
        result.eval_s += report.eval_s
        result.trained_positions += report.trained_positions or sum(s.new_count for s in batch)
        result.steps += 1
        result.skipped_steps += int(report.skipped)
        done += batch_size
        if window_sums.count >= curve_every:
            result.curve.append({"events": done, **window_sums.means()})
            window_sums = RankingSums()
        on_progress(done, result)
    if window_sums.count:
        result.curve.append({"events": done, **window_sums.means()})
    result.wall_s = time.perf_counter() - started
    return result
