"""Quality against cost: the incremental transformer next to what users would run instead.

    python -m bench.quality [--quick] [--config configs/default.yaml]

Every model streams the same file in time order, test-then-train (``stream/replay/prequential.py``,
the trainer's own batching): incremental transformer, popularity (decayed counts),
co-occurrence, the user's recent items, a transformer frozen after a warm-up, and a
transformer retrained from scratch on everything seen every N events. Reported:
prequential NDCG@10 / HR@10 and the compute seconds each model used for the whole
stream, both also as ratios (quality vs popularity, compute vs the incremental
transformer). Data: the Taobao 10k sample, and in the full run also the first 60,000
events of Amazon Beauty and the synthetic stream of `recstream produce --synthetic`
(`stream/data/synthetic.py`, its default 20,000 events). Writes
bench/results/quality-<time>.json and a PNG.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console
from rich.table import Table

from bench.common import write_result
from model.names import MODEL_NAMES
from stream.data.event_files import read_events, shared_data_dir
from stream.data.synthetic import SyntheticSpec, synthetic_events
from stream.paths import REPO_ROOT
from stream.replay.prequential import replay
from stream.settings import Settings, load_settings
from stream.trainer.learner_factory import learner_from_settings

console = Console(width=200)


@dataclass(frozen=True)
class Dataset:
    name: str
    path: str  # under the shared data folder ("" for the synthetic stream)
    file_format: str
    limit: int | None
    batch_events: int
    baselines: dict[str, Any]  # frozen warm-up and retrain period sized to the stream


TAOBAO = Dataset("taobao-10k", "taobao-userbehavior-10k/UserBehavior.csv", "taobao", None, 32,
                 {"frozen_warmup_events": 3_000, "retrain_every_events": 2_500})  # fmt: skip
BEAUTY = Dataset("amazon-beauty-60k", "amazon-beauty/beauty.txt", "pairs", 60_000, 256,
                 {"frozen_warmup_events": 20_000, "retrain_every_events": 20_000})  # fmt: skip
SYNTHETIC = Dataset("synthetic-20k", "", "synthetic", None, 64,
                    {"frozen_warmup_events": 5_000, "retrain_every_events": 5_000})  # fmt: skip


@dataclass(frozen=True)
class QualityRow:
    dataset: str
    model: str
    events: int
    ndcg10: float
    hr10: float
    compute_s: float  # wall seconds of the whole replay, one process, this machine
    train_s: float
    ndcg_vs_popularity: float = float("nan")
    compute_vs_transformer: float = float("nan")


def run_dataset(base: Settings, data: Dataset) -> list[QualityRow]:
    settings = base.model_copy(update={
        "baselines": base.baselines.model_copy(update=data.baselines),
        "trainer": base.trainer.model_copy(update={"device": "cpu"}),
    })  # fmt: skip
    events = (
        synthetic_events(SyntheticSpec()) if data.file_format == "synthetic"
        else read_events(shared_data_dir() / data.path, data.file_format, data.limit)
    )  # fmt: skip
    rows = []
    for model in MODEL_NAMES:
        learner = learner_from_settings(model, settings, rank_every_event=True)
        with console.status(f"{data.name}: {model} over {len(events):,} events"):
            result = replay(learner, events, data.batch_events, settings.window.max_events,
                            settings.window.max_age_s)  # fmt: skip
        means = result.overall.means()
        rows.append(QualityRow(data.name, model, result.events, means["ndcg@10"], means["hr@10"],
                               result.wall_s, result.train_s))  # fmt: skip
        console.print(
            f"{data.name} {model}: NDCG@10 {means['ndcg@10']:.4f} in {result.wall_s:.1f} s"
        )
    by_model = {r.model: r for r in rows}
    popularity, transformer = by_model["popularity"], by_model["transformer"]
    return [
        QualityRow(**{**asdict(r), "ndcg_vs_popularity": r.ndcg10 / max(popularity.ndcg10, 1e-12),
                      "compute_vs_transformer": r.compute_s / max(transformer.compute_s, 1e-12)})
        for r in rows
    ]  # fmt: skip


def run(settings: Settings, quick: bool) -> list[QualityRow]:
    rows = run_dataset(settings, TAOBAO)
    if not quick:
        rows += run_dataset(settings, BEAUTY)
        rows += run_dataset(settings, SYNTHETIC)
    return rows


def print_table(rows: list[QualityRow]) -> None:
    table = Table("data", "model", "events", "NDCG@10", "HR@10", "vs popularity", "compute s",
                  "vs transformer", title="quality vs cost (prequential replay, CPU)")  # fmt: skip
    for r in rows:
        table.add_row(r.dataset, r.model, f"{r.events:,}", f"{r.ndcg10:.4f}", f"{r.hr10:.4f}",
                      f"{r.ndcg_vs_popularity:.1f}x", f"{r.compute_s:,.1f}",
                      f"{r.compute_vs_transformer:.2f}x")  # fmt: skip
    console.print(table)


def plot(rows: list[QualityRow], out: Path) -> None:
    datasets = sorted({r.dataset for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, name in zip(axes[0], datasets, strict=True):
        for r in (r for r in rows if r.dataset == name):
            ax.scatter(max(r.compute_s, 0.01), r.ndcg10, s=50)
            ax.annotate(r.model, (max(r.compute_s, 0.01), r.ndcg10), textcoords="offset points",
                        xytext=(5, 4), fontsize=9)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("compute seconds for the whole stream (log)")
        ax.set_ylabel("prequential NDCG@10")
        ax.set_title(name)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Taobao 10k only")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    args = parser.parse_args()
    rows = run(load_settings(args.config), args.quick)
    print_table(rows)
    out = write_result("quality", {"config": args.config.name, "quick": args.quick,
                                   "rows": [asdict(r) for r in rows]})  # fmt: skip
    plot(rows, out.with_suffix(".png"))
    console.print(f"wrote {out} and {out.with_suffix('.png').name}")


if __name__ == "__main__":
    main()
