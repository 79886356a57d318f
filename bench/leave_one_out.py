"""Leave-one-out on a whole stream: learn everything but each user's last event, then
rank that event.

    python -m bench.leave_one_out [--limit N] [--models transformer,recent,...]

The streaming form of the classical protocol (SASRec, BERT4Rec): every model streams
the file in order, test-then-train as in ``bench.quality``, with each user's last event
held out; then each held-out event is ranked against the whole catalogue by the model as
it stands at the end of the stream, learning nothing, with the user's window (the last
``window.max_events`` events learned) as its history. The transformer admits held-out
items it has never seen, as its serving trainer does between steps (a user's last item
may be new to the model; the baselines rank raw ids). ``frozen`` and ``retrain`` are
evaluated as they serve at that moment: ``retrain``'s last retraining may be up to
``baselines.retrain_every_events`` old, as in production.

Data: Amazon Beauty (the whole file, 353,962 events of 40,226 users; ``--limit`` for a
prefix), whose users are contiguous blocks, so each user's last line is their last
event. Reported: NDCG@10, HR@10 and HR@20 over the held-out events, and the seconds each
model took. Writes bench/results/leave-one-out-<time>.json and a PNG.
"""

from __future__ import annotations

import argparse
import time
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
TEST_BATCH = 256  # held-out events ranked per call
# Sized to the stream (as bench.quality does): frozen after the first quarter or so,
# retrained from scratch three times over the 176k learned events.
BASELINES = {"frozen_warmup_events": 50_000, "retrain_every_events": 50_000}


@dataclass(frozen=True)
class HoldoutRow:
    model: str
    train_events: int
    test_events: int
    ndcg10: float
    hr10: float
    hr20: float
    train_s: float
    test_s: float


def split_last(events: Sequence[RawEvent]) -> tuple[list[RawEvent], list[RawEvent]]:
    """Each user's last event (in stream order) held out; everything else, in order."""
    last = {event["user_id"]: index for index, event in enumerate(events)}
    held = set(last.values())
    train = [e for i, e in enumerate(events) if i not in held]
    test = [events[i] for i in sorted(held)]
    return train, test


def holdout_histories(
    train: Sequence[RawEvent], test: Sequence[RawEvent], max_events: int
) -> list[UserSequence]:
    """Each held-out event after its user's last learned events (a window holds
    ``max_events`` with it), the one
    new event of its sequence (a user with no learned event has nothing to rank from and
    is left out, as in the classical protocol)."""
    windows: dict[str, list[RawEvent]] = {}
    for event in train:
        windows.setdefault(event["user_id"], []).append(event)
    out = []
    for event in test:
        past = windows.get(event["user_id"], [])[-(max_events - 1) :]
        if not past:
            continue
        events = [*past, event]
        out.append(UserSequence(event["user_id"], [e["item_id"] for e in events],
                                [e["action"] for e in events], [e["ts"] for e in events],
                                new_count=1))  # fmt: skip
    return out


def serving_model(learner: Learner) -> Learner:
    """The transformer that answers right now: frozen's and retrain's inner one."""
    if isinstance(learner, FrozenLearner):
        return learner.inner
    if isinstance(learner, PeriodicRetrainLearner):
        return learner.current
    return learner


def run_model(
    model: str, settings: Settings, train: Sequence[RawEvent], tests: Sequence[UserSequence],
    batch_events: int,
) -> HoldoutRow:  # fmt: skip
    # rank_every_event: its evaluate ranks every held-out event, not a sample of them
    learner = learner_from_settings(model, settings, rank_every_event=True)
    with console.status(f"{model}: learning {len(train):,} events"):
        result = replay(learner, train, batch_events, settings.window.max_events,
                        settings.window.max_age_s)  # fmt: skip
    started = time.perf_counter()
    sums = RankingSums()
    server = serving_model(learner)
    with console.status(f"{model}: ranking {len(tests):,} held-out events"):
        for start in range(0, len(tests), TEST_BATCH):
            sums.merge(evaluate_serving(server, tests[start : start + TEST_BATCH]).overall)  # type: ignore[arg-type]
    means = sums.means()
    row = HoldoutRow(model, len(train), sums.count, means["ndcg@10"], means["hr@10"],
                     means["hr@20"], result.wall_s, time.perf_counter() - started)  # fmt: skip
    console.print(f"{model}: NDCG@10 {row.ndcg10:.4f} HR@10 {row.hr10:.4f} HR@20 {row.hr20:.4f} "
                  f"({row.train_s:,.0f} s learning, {row.test_s:,.0f} s ranking)")  # fmt: skip
    return row


def print_table(rows: list[HoldoutRow]) -> None:
    table = Table("model", "learned", "held out", "NDCG@10", "HR@10", "HR@20", "learn s", "rank s",
                  title="leave-one-out after streaming")  # fmt: skip
    for r in rows:
        table.add_row(r.model, f"{r.train_events:,}", f"{r.test_events:,}", f"{r.ndcg10:.4f}",
                      f"{r.hr10:.4f}", f"{r.hr20:.4f}", f"{r.train_s:,.1f}",
                      f"{r.test_s:,.1f}")  # fmt: skip
    console.print(table)


def plot(rows: list[HoldoutRow], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar([r.model for r in rows], [r.ndcg10 for r in rows], color="tab:blue")
    ax.set_ylabel("NDCG@10 of the held-out last events")
    ax.set_title("leave-one-out after streaming (Amazon Beauty)")
    ax.grid(alpha=0.3, axis="y")
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
    train, test = split_last(events)
    tests = holdout_histories(train, test, settings.window.max_events)
    console.print(f"{len(train):,} events learned, {len(tests):,} held out "
                  f"({len(test) - len(tests):,} users with one event left out)")  # fmt: skip
    rows = [run_model(m, settings, train, tests, args.batch_events)
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
