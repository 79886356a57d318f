"""Session-style streams, the ADER way: learn a period, be tested on the next one.

    python -m bench.sessions [--periods 4] [--events 25000] [--quick]

Data: ``ader-yoochoose`` in the shared data folder (YOOCHOOSE clicks split into
consecutive periods by Mi, Lin and Faltings, "ADER", RecSys 2020; sessions are users,
the line number is the time). For each model, period after period:

1. **ADER protocol**: before learning period t (t >= 1), every click of period t that
   has a prefix in its session is ranked against the whole catalogue by the model as it
   stood after period t - 1, without learning: Recall@20 (= HR@20) and MRR@20. The
   transformer admits new items to its vocabulary as they arrive, as the serving
   trainer does between steps (no gradient step, no transition counted): otherwise a
   repeat of an item first seen in period t could not be ranked, while the baselines
   rank raw ids (measured: every repeat the transformer missed was such an item).
2. **Streaming**: then period t is streamed test-then-train (the trainer's batching):
   prequential NDCG@10, Recall@20 and MRR@20 over every click, first clicks of sessions
   included (only popularity can predict those).

Only the first ``--events`` clicks of each period are used (the transformer learns ~190
clicks/s on 2 CPU cores; whole periods are ~200k clicks). Models: the incremental
transformer with the default config, popularity, co-occurrence, the user's recent items.
Writes bench/results/sessions-<time>.json and a PNG (Recall@20 per period).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import matplotlib
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console
from rich.table import Table

from bench.common import write_result
from model.contract import StepReport, UserSequence
from model.ranking_metrics import RankingSums
from model.transformer_learner import TransformerLearner
from stream.data.event_files import read_pairs, shared_data_dir
from stream.messages.events import RawEvent
from stream.paths import REPO_ROOT
from stream.replay.prequential import micro_batches, replay
from stream.settings import Settings, load_settings
from stream.trainer.learner_factory import learner_from_settings

console = Console(width=200)
MODELS = ("transformer", "recent", "cooc", "popularity", "trending")
PERIOD_SPACING_S = 10_000_000.0  # periods follow each other in time; lines are seconds within


class Evaluating(Protocol):
    def evaluate(self, batch: Sequence[UserSequence]) -> StepReport: ...


def evaluate_serving(learner: Evaluating, batch: Sequence[UserSequence]) -> StepReport:
    """Rank without learning; the transformer admits the batch's new items first, as its
    serving trainer would (the baselines rank raw ids, new ones included)."""
    if isinstance(learner, TransformerLearner):
        return learner.evaluate(batch, admit_items=True)
    return learner.evaluate(batch)


@dataclass(frozen=True)
class PeriodRow:
    model: str
    period: int
    events: int
    # ADER protocol: this period ranked by the model of the periods before (None: period 0)
    next_recall20: float | None
    next_mrr20: float | None
    # streaming: this period test-then-train
    ndcg10: float
    recall20: float
    mrr20: float
    events_per_s: float


def read_period(period: int, limit: int | None) -> list[RawEvent]:
    path = shared_data_dir() / "ader-yoochoose" / f"period_{period}.txt"
    events = read_pairs(path, limit, action="click")
    for event in events:
        event["ts"] += period * PERIOD_SPACING_S
    return events


def ranked_with_prefix(
    learner: Evaluating, events: Sequence[RawEvent], settings: Settings, batch_events: int
) -> RankingSums:
    """Rank every event that has an earlier event in its session, learning nothing."""
    sums = RankingSums()
    for batch, _size in micro_batches(events, batch_events, settings.window.max_events,
                                      settings.window.max_age_s):  # fmt: skip
        prefixed = [dataclasses.replace(s, new_count=min(s.new_count, len(s.items) - 1))
                    for s in batch]  # fmt: skip
        prefixed = [s for s in prefixed if s.new_count > 0]
        if prefixed:
            sums.merge(evaluate_serving(learner, prefixed).overall)
    return sums


def run_model(
    model: str, settings: Settings, periods: int, limit: int | None, batch_events: int
) -> list[PeriodRow]:
    learner = learner_from_settings(model, settings, rank_every_event=True)
    rows = []
    for period in range(periods):
        events = read_period(period, limit)
        tested: RankingSums | None = None
        if period > 0:
            # A copy admits the test period's items: the learner streams the period after
            # as if the test had not happened (the same cold events, the same row draws).
            probe = _copy(learner) if isinstance(learner, TransformerLearner) else learner
            with console.status(f"{model}: testing on period {period}"):
                tested = ranked_with_prefix(probe, events, settings, batch_events)  # type: ignore[arg-type]
        started = time.perf_counter()
        with console.status(f"{model}: streaming period {period} ({len(events):,} clicks)"):
            result = replay(learner, events, batch_events, settings.window.max_events,
                            settings.window.max_age_s)  # fmt: skip
        wall = time.perf_counter() - started
        means = result.overall.means()
        tested_means = tested.means() if tested is not None else None
        row = PeriodRow(
            model, period, len(events),
            tested_means["hr@20"] if tested_means else None,
            tested_means["mrr@20"] if tested_means else None,
            means["ndcg@10"], means["hr@20"], means["mrr@20"], len(events) / max(wall, 1e-9),
        )  # fmt: skip
        console.print(f"{model} period {period}: next R@20 {_fmt(row.next_recall20)} "
                      f"MRR@20 {_fmt(row.next_mrr20)} | streaming NDCG@10 {row.ndcg10:.4f} "
                      f"R@20 {row.recall20:.4f} MRR@20 {row.mrr20:.4f}")  # fmt: skip
        rows.append(row)
    return rows


def _copy(learner: TransformerLearner) -> TransformerLearner:
    """An independent copy (its tensors cloned: loading a state shares them)."""
    state = {k: v.clone() if torch.is_tensor(v) else copy.deepcopy(v)
             for k, v in learner.state_dict().items()}  # fmt: skip
    return TransformerLearner.from_state_dict(state)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _mean(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return sum(real) / len(real) if real else None


def print_table(rows: list[PeriodRow]) -> None:
    table = Table("model", "period", "clicks", "ADER R@20", "ADER MRR@20", "stream NDCG@10",
                  "stream R@20", "stream MRR@20", "clicks/s",
                  title="session stream (ADER YOOCHOOSE periods)")  # fmt: skip
    for r in rows:
        table.add_row(r.model, str(r.period), f"{r.events:,}", _fmt(r.next_recall20),
                      _fmt(r.next_mrr20), f"{r.ndcg10:.4f}", f"{r.recall20:.4f}",
                      f"{r.mrr20:.4f}", f"{r.events_per_s:,.0f}")  # fmt: skip
    console.print(table)


def summary(rows: list[PeriodRow]) -> dict[str, dict[str, float | None]]:
    """Per model: the ADER figures averaged over the tested periods, and the streaming
    figures over every period (mean of periods)."""
    out = {}
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        out[model] = {
            "ader_recall20": _mean([r.next_recall20 for r in mine]),
            "ader_mrr20": _mean([r.next_mrr20 for r in mine]),
            "stream_ndcg10": _mean([r.ndcg10 for r in mine]),
            "stream_recall20": _mean([r.recall20 for r in mine]),
            "stream_mrr20": _mean([r.mrr20 for r in mine]),
        }
    return out


def plot(rows: list[PeriodRow], out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        tested = [r for r in mine if r.next_recall20 is not None]
        axes[0].plot([r.period for r in tested], [r.next_recall20 for r in tested], marker="o",
                     label=model)  # fmt: skip
        axes[1].plot([r.period for r in mine], [r.ndcg10 for r in mine], marker="o",
                     label=model)  # fmt: skip
    axes[0].set_title("ADER protocol: Recall@20 on period t, model of periods < t")
    axes[1].set_title("streaming: prequential NDCG@10 within period t")
    for ax in axes:
        ax.set_xlabel("period")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--periods", type=int, default=4)
    parser.add_argument("--events", type=int, default=25_000, help="clicks read per period")
    parser.add_argument("--batch-events", type=int, default=256)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--quick", action="store_true", help="2 periods of 3,000 clicks")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    args = parser.parse_args()
    periods, limit = (2, 3_000) if args.quick else (args.periods, args.events)
    settings = load_settings(args.config)
    settings = settings.model_copy(update={
        "trainer": settings.trainer.model_copy(update={"device": "cpu"})})  # fmt: skip
    rows: list[PeriodRow] = []
    for model in args.models.split(","):
        rows += run_model(model, settings, periods, limit, args.batch_events)
    print_table(rows)
    averages = summary(rows)
    console.print(averages)
    out = write_result("sessions", {
        "config": args.config.name, "periods": periods, "events_per_period": limit,
        "batch_events": args.batch_events, "rows": [asdict(r) for r in rows],
        "summary": averages,
    })  # fmt: skip
    plot(rows, out.with_suffix(".png"))
    console.print(f"wrote {out} and {out.with_suffix('.png').name}")


if __name__ == "__main__":
    main()
