"""Leave-one-out on a whole stream: learn everything but each user's last event, and
rank that event, twice.

    python -m bench.leave_one_out [--limit N] [--models transformer,recent,...]

The streaming form of the classical protocol (SASRec, BERT4Rec): every model streams
the file in order, test-then-train as in ``bench.quality``, with each user's last event
held out (never learned). Each held-out event is ranked against the whole catalogue,
learning nothing, with the user's window (the learned events before it, up to
``window.max_events`` with it) as its history:

- **in time**: when the stream reaches it, by the model as it stands then (before the
  micro-batch around it is learned, as prequential ranking does). What a deployed model
  faces: a user's next event happens now.
- **at the end**: after the whole stream, by the final model (the classical protocol:
  the model has seen every other event, later users' included).

The transformer admits held-out items it has never seen, as its serving trainer does
between steps (the baselines rank raw ids). ``frozen`` and ``retrain`` are ranked by the
transformer they serve at that moment: ``retrain``'s last retraining may be up to
``baselines.retrain_every_events`` old, as in production.

Data: Amazon Beauty (the whole file, 353,962 events of 40,226 users; ``--limit`` for a
prefix). Reported: NDCG@10, HR@10 and HR@20 of the held-out events under both, and the
seconds each model took. Writes bench/results/leave-one-out-<time>.json and a PNG.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console
from rich.table import Table

from bench.common import write_result
from bench.sessions import evaluate_serving
from model.baselines.frozen import FrozenLearner
from model.baselines.retrain import PeriodicRetrainLearner
from model.contract import Learner, UserSequence
from model.names import MODEL_NAMES
from model.ranking_metrics import RankingSums
from stream.data.event_files import read_events, shared_data_dir
from stream.messages.events import RawEvent
from stream.paths import REPO_ROOT
from stream.replay.prequential import replay
from stream.settings import Settings, load_settings
from stream.trainer.learner_factory import learner_from_settings

console = Console(width=200)
TEST_BATCH = 256  # held-out events ranked per call at the end
# Sized to the stream (as bench.quality does): frozen after the first 50k events;
# retrained from scratch every 100k events, one epoch each (two would take this
# 2-core machine about an hour for the whole file).
BASELINES = {"frozen_warmup_events": 50_000, "retrain_every_events": 100_000,
             "retrain_epochs": 1}  # fmt: skip


@dataclass(frozen=True)
class HeldOut:
    """Users' last events and where they fall among the learned ones."""

    histories: list[UserSequence]  # each held-out event after its window, new_count 1
    learned_before: list[int]  # learned events that precede each, in stream order


@dataclass(frozen=True)
class HoldoutRow:
    model: str
    learned: int
    held_out: int
    in_time_ndcg10: float
    in_time_hr10: float
    in_time_hr20: float
    end_ndcg10: float
    end_hr10: float
    end_hr20: float
    learn_s: float


def split_last(events: Sequence[RawEvent], max_events: int) -> tuple[list[RawEvent], HeldOut]:
    """Each user's last event (in stream order) held out, everything else learned in
    order. A user with a single event has nothing to rank from and is left out, as in
    the classical protocol."""
    last = {event["user_id"]: index for index, event in enumerate(events)}
    learned: list[RawEvent] = []
    windows: dict[str, list[RawEvent]] = {}
    histories, learned_before = [], []
    for index, event in enumerate(events):
        past = windows.setdefault(event["user_id"], [])
        if last[event["user_id"]] != index:
            learned.append(event)
            past.append(event)
        elif past:
            window = [*past[-(max_events - 1) :], event]
            histories.append(UserSequence(
                event["user_id"], [e["item_id"] for e in window],
                [e["action"] for e in window], [e["ts"] for e in window], new_count=1,
            ))  # fmt: skip
            learned_before.append(len(learned))
    return learned, HeldOut(histories, learned_before)


def serving_model(learner: Learner) -> Learner:
    """The transformer that answers right now: frozen's and retrain's inner one."""
    if isinstance(learner, FrozenLearner):
        return learner.inner
    if isinstance(learner, PeriodicRetrainLearner):
        return learner.current
    return learner


def rank(learner: Learner, histories: Sequence[UserSequence]) -> RankingSums:
    sums = RankingSums()
    for start in range(0, len(histories), TEST_BATCH):
        chunk = histories[start : start + TEST_BATCH]
        sums.merge(evaluate_serving(serving_model(learner), chunk).overall)  # type: ignore[arg-type]
    return sums


def run_model(
    model: str, settings: Settings, learned: Sequence[RawEvent], held: HeldOut,
    batch_events: int,
) -> HoldoutRow:  # fmt: skip
    # rank_every_event: its evaluate ranks every held-out event, not a sample of them
    learner = learner_from_settings(model, settings, rank_every_event=True)
    in_time = RankingSums()
    next_test = 0

    def rank_due(end: int) -> None:
        """Before a step that learns events up to ``end``: rank the held-out events that
        come before its last one, with the model as it stands."""
        nonlocal next_test
        due = next_test
        while due < len(held.histories) and held.learned_before[due] < end:
            due += 1
        if due > next_test:
            in_time.merge(rank(learner, held.histories[next_test:due]))
            next_test = due

    with console.status(f"{model}: learning {len(learned):,} events"):
        result = replay(learner, learned, batch_events, settings.window.max_events,
                        settings.window.max_age_s, before_step=rank_due)  # fmt: skip
        rank_due(len(learned) + 1)  # those after the last learned event
    with console.status(f"{model}: ranking {len(held.histories):,} held-out events"):
        at_end = rank(learner, held.histories)
    now, end = in_time.means(), at_end.means()
    row = HoldoutRow(model, len(learned), at_end.count, now["ndcg@10"], now["hr@10"],
                     now["hr@20"], end["ndcg@10"], end["hr@10"], end["hr@20"],
                     result.wall_s)  # fmt: skip
    console.print(f"{model}: in time NDCG@10 {row.in_time_ndcg10:.4f} HR@20 "
                  f"{row.in_time_hr20:.4f}; at the end NDCG@10 {row.end_ndcg10:.4f} HR@20 "
                  f"{row.end_hr20:.4f} ({row.learn_s:,.0f} s)")  # fmt: skip
    return row


def print_table(rows: list[HoldoutRow]) -> None:
    table = Table("model", "learned", "held out", "in time NDCG@10", "HR@10", "HR@20",
                  "at the end NDCG@10", "HR@10", "HR@20", "seconds",
                  title="leave-one-out after streaming")  # fmt: skip
    for r in rows:
        table.add_row(r.model, f"{r.learned:,}", f"{r.held_out:,}", f"{r.in_time_ndcg10:.4f}",
                      f"{r.in_time_hr10:.4f}", f"{r.in_time_hr20:.4f}", f"{r.end_ndcg10:.4f}",
                      f"{r.end_hr10:.4f}", f"{r.end_hr20:.4f}", f"{r.learn_s:,.0f}")  # fmt: skip
    console.print(table)


def plot(rows: list[HoldoutRow], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = list(range(len(rows)))
    ax.bar([i - 0.2 for i in x], [r.in_time_ndcg10 for r in rows], 0.4, label="in time")
    ax.bar([i + 0.2 for i in x], [r.end_ndcg10 for r in rows], 0.4, label="at the end")
    ax.set_xticks(x, [r.model for r in rows])
    ax.set_ylabel("NDCG@10 of the held-out last events")
    ax.set_title("leave-one-out after streaming (Amazon Beauty)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N lines of the file")
    parser.add_argument("--batch-events", type=int, default=256)
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    args = parser.parse_args()
    settings = load_settings(args.config)
    settings = settings.model_copy(update={
        "baselines": settings.baselines.model_copy(update=BASELINES),
        "trainer": settings.trainer.model_copy(update={"device": "cpu"}),
    })  # fmt: skip
    events = read_events(shared_data_dir() / "amazon-beauty" / "beauty.txt", "pairs", args.limit)
    learned, held = split_last(events, settings.window.max_events)
    console.print(f"{len(learned):,} events learned, {len(held.histories):,} held out")
    rows = [run_model(m, settings, learned, held, args.batch_events)
            for m in args.models.split(",")]  # fmt: skip
    print_table(rows)
    out = write_result("leave-one-out", {
        "config": args.config.name, "data": "amazon-beauty", "limit": args.limit,
        "batch_events": args.batch_events,
        "baselines": settings.baselines.model_dump(), "rows": [asdict(r) for r in rows],
    })  # fmt: skip
    plot(rows, out.with_suffix(".png"))
    console.print(f"wrote {out} and {out.with_suffix('.png').name}")


if __name__ == "__main__":
    main()
