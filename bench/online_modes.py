"""Pretrain, then adapt: what each online mode keeps of a stream's quality, and its cost.

    python -m bench.online_modes [--quick] [--config configs/default.yaml]
                                 [--backbone HIDDEN LAYERS HEADS] [--device cuda]
                                 [--variants ...]

Each stream is replayed once in time order with the trainer's batching, every variant
learning each micro-batch in turn (``Lockstep``), so their step times are measured side
by side. Every variant is the same transformer pretrained (full, test-then-train, the
config's item-row policy) on the stream's first half; at the half it goes on as

- ``full, all rows``: every weight learns, and every item row a step reads moves: inputs,
  targets and sampled negatives (``model.item_row_updates: all``);
- ``full, sequence rows``: rows scored only as negatives do not move (``sequences``);
- ``full, target rows``: only the rows the loss predicts move, inputs read the table
  (``targets``, the default);
- ``adapters, ...``: the same three with LoRA adapters on the frozen decoder, plus item
  rows (as low-rank codes over the frozen table, ``model.adapter_item_rank``), input
  embeddings and heads (``model.online: adapters``);
- ``adapters (whole item rows), target rows``: adapters, the item rows learning all their
  floats (``model.adapter_item_rank: 0``);
- ``frozen``: nothing learns (the pretrained backbone as a batch model would serve it);

and ``retrain``, the periodic-retrain baseline, replays the whole stream as it always
does. Reported on the second half only: prequential NDCG@10 / HR@10 and the mean
training seconds per step. Data: Taobao 10k and the first 60,000 events of Amazon
Beauty (--quick: Taobao only). Writes bench/results/online-modes-<time>.json.

``--backbone 256 4 4`` runs a larger decoder (configs/gpu.yaml's shape) in place of
the config's, where the frozen weights' gradients, what adapters save, are a larger part
of a step; ``--device cuda`` runs it on a GPU. (On this project's CPU adapters save
nothing at either shape: bench/NOTES.md, "Adapters' step time, side by side".)
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from torch import cuda

from bench.common import write_result
from bench.quality import BEAUTY, TAOBAO, Dataset
from model.contract import Learner, StepReport, UserSequence
from model.ranking_metrics import RankingSums
from model.transformer_learner import TransformerLearner
from stream.data.event_files import read_events, shared_data_dir
from stream.paths import REPO_ROOT
from stream.replay.prequential import replay
from stream.settings import load_settings
from stream.trainer.learner_factory import learner_config, learner_from_settings

console = Console(width=160)
VARIANTS = ("full, all rows", "full, sequence rows", "full, target rows", "adapters, all rows",
            "adapters, sequence rows", "adapters, target rows",
            "adapters (whole item rows), target rows", "frozen", "retrain")  # fmt: skip
ROW_POLICIES = {"all rows": "all", "sequence rows": "sequences", "target rows": "targets"}


class AfterHalf:
    """Learns like ``learner`` until ``split`` events, then as ``variant`` says; keeps
    the quality and the training time of what comes after the split."""

    def __init__(self, learner: Learner, split: int, variant: str, on_gpu: bool = False) -> None:
        self.learner, self.split, self.variant = learner, split, variant
        self.on_gpu = on_gpu
        self.name = learner.name
        self.seen = 0
        self.after = RankingSums()
        self.train_s = 0.0
        self.steps = 0

    def learn(self, batch: Sequence[UserSequence], *args: Any, **kwargs: Any) -> StepReport:
        before = self.seen
        self.seen += sum(seq.new_count for seq in batch)
        if before < self.split:
            return self.learner.learn(batch, *args, **kwargs)
        learner = self.learner
        if self.steps == 0 and isinstance(learner, TransformerLearner):
            if self.variant.startswith("adapters"):
                adapters = learner.config.adapters
                if "whole item rows" in self.variant:  # item rows learn all 64 floats
                    adapters = dataclasses.replace(adapters, item_rank=0)
                learner.use_adapters(adapters)
            for label, rows in ROW_POLICIES.items():
                if self.variant.endswith(label):
                    learner.config = dataclasses.replace(learner.config, item_row_updates=rows)
        if self.variant == "frozen" and isinstance(learner, TransformerLearner):
            report = learner.evaluate(batch)
        else:
            report = learner.learn(batch, *args, **kwargs)
        self.after.merge(report.overall)
        self.train_s += report.train_s + self._queued_work_s()
        self.steps += 1
        return report

    def _queued_work_s(self) -> float:
        """On a GPU the step returns before its kernels finish: wait for them and count
        the wait as training, so it does not land on the next variant in lockstep."""
        if not self.on_gpu:
            return 0.0
        started = time.perf_counter()
        cuda.synchronize()
        return time.perf_counter() - started


class Lockstep:
    """Every variant learns each micro-batch before the next one comes, the order
    rotating by step: step times measured side by side, so a slower phase of a noisy
    machine falls on all variants alike (run one after another, two variants' ratio moved
    from 0.81x to 1.07x with their order)."""

    def __init__(self, learners: Sequence[AfterHalf]) -> None:
        self.learners = list(learners)
        self.name = "lockstep"
        self.steps = 0

    def learn(self, batch: Sequence[UserSequence], *args: Any, **kwargs: Any) -> StepReport:
        shift = self.steps % len(self.learners)
        rotated = self.learners[shift:] + self.learners[:shift]
        reports = [learner.learn(batch, *args, **kwargs) for learner in rotated]
        self.steps += 1
        return reports[-shift]  # the first variant's (rotated to -shift): the replay's sums


@dataclass(frozen=True)
class ModeRow:
    dataset: str
    variant: str
    backbone: str  # hidden size x decoder layers, heads
    events_after_split: int
    ndcg10: float
    hr10: float
    train_ms_per_step: float
    trainable_params: int


def run(
    data: Dataset,
    config: Path,
    progress: Progress,
    variants: Sequence[str] = VARIANTS,
    backbone: dict[str, int] | None = None,
    device: str = "cpu",
) -> list[ModeRow]:
    """``backbone``: model settings to override (hidden_size, num_layers, num_heads)."""
    base = load_settings(config)
    settings = base.model_copy(update={
        "baselines": base.baselines.model_copy(update=data.baselines),
        "trainer": base.trainer.model_copy(update={"device": device}),
        "model": base.model.model_copy(update=backbone or {}),
    })  # fmt: skip
    events = read_events(shared_data_dir() / data.path, data.file_format, data.limit)
    split = len(events) // 2
    learners = []
    for variant in variants:
        if variant == "retrain":
            inner = learner_from_settings("retrain", settings, rank_every_event=True)
        else:
            inner = TransformerLearner(learner_config(settings, rank_every_event=True))
        learners.append(AfterHalf(inner, split, variant, on_gpu=device.startswith("cuda")))
    task = progress.add_task(f"{data.name}: {len(variants)} variants in lockstep",
                             total=len(events))  # fmt: skip
    # Lockstep has the one method replay calls.
    replay(cast(Learner, Lockstep(learners)), events, data.batch_events,
           settings.window.max_events, settings.window.max_age_s,
           lambda done, _result: progress.update(task, completed=done))  # fmt: skip
    shape = settings.model
    backbone_name = f"{shape.hidden_size} x {shape.num_layers}, {shape.num_heads} heads"
    rows = []
    for learner in learners:
        means = learner.after.means()
        model = getattr(learner.learner, "model", None)
        trainable = (sum(p.numel() for p in model.parameters() if p.requires_grad)
                     if model is not None and learner.variant != "frozen" else 0)  # fmt: skip
        rows.append(ModeRow(data.name, learner.variant, backbone_name, len(events) - split,
                            means["ndcg@10"], means["hr@10"],
                            1000 * learner.train_s / max(learner.steps, 1), trainable))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Taobao 10k only")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="a subset, in this order (the ratios are to the first)")  # fmt: skip
    parser.add_argument("--backbone", nargs=3, type=int, metavar=("HIDDEN", "LAYERS", "HEADS"),
                        help="another decoder shape than the config's, e.g. 256 4 4")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="where the learners run: cpu, cuda")
    args = parser.parse_args()
    backbone = (dict(zip(("hidden_size", "num_layers", "num_heads"), args.backbone, strict=True))
                if args.backbone else None)  # fmt: skip
    datasets = [TAOBAO] if args.quick else [TAOBAO, BEAUTY]
    rows: list[ModeRow] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:  # fmt: skip
        for data in datasets:
            rows += run(data, args.config, progress, args.variants, backbone, args.device)
    first = args.variants[0]
    table = Table("stream", "backbone", "after the half", "events", "NDCG@10", f"vs {first}",
                  "HR@10", "train ms/step", f"vs {first}", "trainable params",
                  title="pretrained on the first half, then online (second half only)")  # fmt: skip
    for row in rows:
        full = next(r for r in rows if r.dataset == row.dataset and r.variant == args.variants[0])
        table.add_row(row.dataset, row.backbone, row.variant, f"{row.events_after_split:,}",
                      f"{row.ndcg10:.4f}", f"{row.ndcg10 / full.ndcg10:.2f}x",
                      f"{row.hr10:.4f}", f"{row.train_ms_per_step:.1f}",
                      f"{row.train_ms_per_step / full.train_ms_per_step:.2f}x"
                      if full.train_ms_per_step else "", f"{row.trainable_params:,}")  # fmt: skip
    console.print(table)
    out = write_result("online-modes", {"config": args.config.name, "device": args.device,
                                        "rows": [asdict(r) for r in rows]})  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
