"""What online learning forgets: a stream in consecutive periods, every period's held-out
events evaluated after each period is learned (the ADER protocol's metrics).

    python -m bench.forgetting [--data taobao|yoochoose] [--events 96000] [--periods 4]
                               [--config ...]

``taobao``: the Taobao 96k sample, in time order, cut into --periods periods of equal
event counts. ``yoochoose``: ADER's YOOCHOOSE periods (sessions as users), the first
--events / --periods clicks of each of its first --periods period files, in file order.

In each period, the last event of a fifth of its users (chosen by a hash of the
user id) is held out: never learned, its user's earlier events are its history. The
learner streams the rest with the trainer's batching; after each period, every period's
held-out events are ranked against the whole catalogue: Recall@20 and MRR@20 (Mi et
al., "ADER: Adaptively Distilled Exemplar Replay Towards Continual Learning for
Session-based Recommendation", RecSys 2020). The matrix's row t is "after learning
period t"; its column p "held-out events of period p": below the diagonal is memory,
above it generalisation to what comes next. Forgetting = the mean, over the periods
before the last, of (Recall@20 right after learning p) - (Recall@20 after the last).

Variants: ``full`` and ``adapters`` (the first period learned in full as the backbone's
pretraining, the rest with LoRA adapters), each with and without replay. Writes
bench/results/forgetting-<time>.json and a PNG of the matrices.
"""

from __future__ import annotations

import argparse
import dataclasses
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.common import RESULTS, stamp, write_result
from model.contract import UserSequence
from model.transformer_learner import TransformerLearner
from stream.data.event_files import read_pairs, read_taobao, shared_data_dir
from stream.messages.events import RawEvent
from stream.paths import REPO_ROOT
from stream.replay.prequential import micro_batches
from stream.settings import load_settings
from stream.trainer.learner_factory import learner_config

console = Console(width=160)
K = 20
HOLDOUT_SHARE = 5  # one user in five holds out their last event of each period
VARIANTS = (("full", True), ("full", False), ("adapters", True), ("adapters", False))


@dataclass(frozen=True)
class HeldOut:
    period: int
    history: UserSequence
    target: str


@dataclass
class VariantResult:
    mode: str
    replay: bool
    recall: list[list[float]]  # [after period t][held out in period p]
    mrr: list[list[float]]
    forgetting_recall: float
    forgetting_mrr: float
    train_s: float

    @property
    def label(self) -> str:
        return f"{self.mode}, {'replay' if self.replay else 'no replay'}"


def read_stream(data: str, events: int, periods: int) -> list[RawEvent]:
    if data == "taobao":
        return read_taobao(shared_data_dir() / "taobao-userbehavior-96k" / "UserBehavior.csv",
                           events)  # fmt: skip
    stream: list[RawEvent] = []
    for period in range(periods):
        path = shared_data_dir() / "ader-yoochoose" / f"period_{period}.txt"
        for event in read_pairs(path, events // periods):
            # Session ids restart per period in ADER's files; lines are clicks in order.
            event["user_id"] = f"p{period}-{event['user_id']}"
            event["ts"] = float(len(stream))
            stream.append(event)
    return stream


def split_periods(
    events: Sequence[RawEvent], periods: int, max_len: int
) -> tuple[list[RawEvent], list[int], list[HeldOut]]:
    """The training stream (held-out events removed), the index in it where each period
    ends, and the held-out events with their histories."""
    size = len(events) // periods
    held_at: set[int] = set()
    for p in range(periods):
        last: dict[str, int] = {}
        for index in range(p * size, len(events) if p == periods - 1 else (p + 1) * size):
            last[events[index]["user_id"]] = index
        held_at |= {i for user, i in last.items() if zlib.crc32(user.encode()) % HOLDOUT_SHARE == 0}
    train: list[RawEvent] = []
    ends: list[int] = []
    held: list[HeldOut] = []
    history: dict[str, list[RawEvent]] = {}
    for index, event in enumerate(events):
        period = min(index // size, periods - 1)
        if index in held_at:
            past = history.get(event["user_id"], [])[-max_len:]
            if past:  # a first event has no history to rank from
                items, actions = [e["item_id"] for e in past], [e["action"] for e in past]
                seq = UserSequence(event["user_id"], items, actions, [e["ts"] for e in past], 0)
                held.append(HeldOut(period, seq, event["item_id"]))
        else:
            train.append(event)
            history.setdefault(event["user_id"], []).append(event)
        if index + 1 == (period + 1) * size and period < periods - 1:
            ends.append(len(train))
    ends.append(len(train))
    return train, ends, held


def evaluate(
    learner: TransformerLearner, held: list[HeldOut], periods: int
) -> tuple[list[float], list[float]]:
    hits, ranks, counts = [0.0] * periods, [0.0] * periods, [0] * periods
    for start in range(0, len(held), 256):
        chunk = held[start : start + 256]
        recommended = learner.recommend([h.history for h in chunk], K)
        for h, rec in zip(chunk, recommended, strict=True):
            counts[h.period] += 1
            if h.target in rec.items:
                hits[h.period] += 1
                ranks[h.period] += 1 / (rec.items.index(h.target) + 1)
    return ([h / max(c, 1) for h, c in zip(hits, counts, strict=True)],
            [r / max(c, 1) for r, c in zip(ranks, counts, strict=True)])  # fmt: skip


def run_variant(
    config: Any, mode: str, replay: bool, train: list[RawEvent], ends: list[int],
    held: list[HeldOut], window: tuple[int, float], progress: Progress, task: Any,
) -> VariantResult:  # fmt: skip
    cfg = dataclasses.replace(config, online="full",
                              replay_ratio=config.replay_ratio if replay else 0.0)  # fmt: skip
    learner = TransformerLearner(cfg)
    periods = len(ends)
    recall: list[list[float]] = []
    mrr: list[list[float]] = []
    done, period, train_s = 0, 0, 0.0
    for batch, size in micro_batches(train, 256, *window):
        report = learner.learn(batch)
        train_s += report.train_s
        done += size
        progress.advance(task, size)
        # A batch may run up to 255 events into the next period before the evaluation.
        while period < periods and done >= ends[period]:
            r, m = evaluate(learner, held, periods)
            recall.append(r)
            mrr.append(m)
            period += 1
            if period == 1 and mode == "adapters":
                learner.use_adapters()  # the first period was the backbone's pretraining
    last = periods - 1
    forgetting_recall = sum(recall[p][p] - recall[last][p] for p in range(last)) / max(last, 1)
    forgetting_mrr = sum(mrr[p][p] - mrr[last][p] for p in range(last)) / max(last, 1)
    return VariantResult(mode, replay, recall, mrr, forgetting_recall, forgetting_mrr, train_s)


def plot(results: list[VariantResult], path: Path) -> None:
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 4), squeeze=False)
    top = max(max(max(row) for row in r.recall) for r in results)
    for ax, result in zip(axes[0], results, strict=True):
        image = ax.imshow(result.recall, vmin=0, vmax=top, cmap="viridis")
        n = len(result.recall)
        for t in range(n):
            for p in range(n):
                ax.text(p, t, f"{result.recall[t][p]:.3f}", ha="center", va="center",
                        color="white", fontsize=8)  # fmt: skip
        ax.set_title(f"{result.label}\nforgetting {result.forgetting_recall:+.3f}")
        ax.set_xlabel("held-out events of period")
        ax.set_ylabel("after learning period")
        ax.set_xticks(range(n), [str(i + 1) for i in range(n)])
        ax.set_yticks(range(n), [str(i + 1) for i in range(n)])
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label=f"Recall@{K}")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", choices=["taobao", "yoochoose"], default="taobao")
    parser.add_argument("--events", type=int, default=96_000)
    parser.add_argument("--periods", type=int, default=4)
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    args = parser.parse_args()
    settings = load_settings(args.config)
    settings = settings.model_copy(
        update={"trainer": settings.trainer.model_copy(update={"device": "cpu"})}
    )
    config = learner_config(settings, rank_every_event=True)
    events = read_stream(args.data, args.events, args.periods)
    train, ends, held = split_periods(events, args.periods, config.model.max_len)
    window = (settings.window.max_events, settings.window.max_age_s)
    console.print(f"{args.data}: {len(events):,} events, {args.periods} periods; "
                  f"{len(held):,} held out, {len(train):,} learned")  # fmt: skip
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:  # fmt: skip
        for mode, replay in VARIANTS:
            task = progress.add_task(f"{mode}, replay {replay}", total=len(train))
            results.append(run_variant(config, mode, replay, train, ends, held, window,
                                       progress, task))  # fmt: skip
    table = Table("variant", *[f"R@{K} after {t + 1}" for t in range(args.periods)],
                  "last row MRR@20", "forgetting R@20", "forgetting MRR@20", "train s",
                  title=f"{args.data}: Recall@20 of each period's held-out events")  # fmt: skip
    for r in results:
        table.add_row(r.label, *[" ".join(f"{v:.3f}" for v in row) for row in r.recall],
                      " ".join(f"{v:.3f}" for v in r.mrr[-1]), f"{r.forgetting_recall:+.4f}",
                      f"{r.forgetting_mrr:+.4f}", f"{r.train_s:.0f}")  # fmt: skip
    console.print(table)
    when = stamp()
    png = RESULTS / f"forgetting-{when}.png"
    plot(results, png)
    out = write_result("forgetting", {
        "config": args.config.name, "data": args.data, "events": len(events),
        "periods": args.periods,
        "held_out": len(held), "k": K, "plot": png.name,
        "results": [asdict(r) | {"label": r.label} for r in results],
    }, when)  # fmt: skip
    console.print(f"wrote {out} and {png.name}")


if __name__ == "__main__":
    main()
