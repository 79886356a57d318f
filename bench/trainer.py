"""Trainer throughput on the CPU: training samples/s, ranking users/s, FLOP utilisation.

    python -m bench.trainer [--quick] [--config configs/default.yaml]

Three cases, all with the model of ``--config``:

* ``taobao``: the Taobao 96k sample streamed through the learner in micro-batches of
  256 events, exactly as a replay does; the first part warms the vocabulary and the
  weights, the rest is timed (a real catalogue of ~75,000 items, real windows).
* ``sessions``: the same with the sessions profile (bench/profiles.py: YOOCHOOSE
  sessions, 10,000 open at a time), whose windows grow while a session is open.
* ``1M items``: a catalogue of 1,000,000 items and random windows (50 events, 2 new),
  256 users per step.

Per case: ``learn`` split in its ranking pass (rank every new event + top-k per
user) and its training step, and ``recommend`` (top-k only). FLOPs are counted by
``torch.utils.flop_counter.FlopCounterMode`` on one step (matmuls and attention, what
dominates), and the reference is this machine's fp32 matrix-multiply rate measured
in the same run with the same threads, so the utilisation is a ratio of two
measurements. Writes bench/results/trainer-<time>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from bench.common import write_result
from bench.profiles import PROFILES
from model.contract import StepReport, UserSequence
from model.runtime import configure_threads
from model.transformer_learner import TransformerLearner
from stream.data.event_files import read_taobao, shared_data_dir
from stream.messages.events import RawEvent
from stream.paths import REPO_ROOT
from stream.replay.prequential import micro_batches
from stream.settings import Settings, load_settings
from stream.trainer.learner_factory import learner_config

console = Console(width=200)
ACTIONS = ("view", "click", "purchase")


@dataclass
class TrainerCase:
    case: str
    catalogue: int
    steps: int
    users_per_step: float
    train_samples_per_s: float  # trained positions (new events + replayed) per training second
    learn_users_per_s: float  # users through a whole learn() call
    rank_users_per_s: float  # the ranking pass of learn(): new events' ranks + top-k
    recommend_users_per_s: float  # recommend(): top-k over the catalogue only
    train_gflop_per_sample: float
    rank_gflop_per_user: float
    train_gflops: float  # achieved
    rank_gflops: float
    peak_gflops: float  # fp32 matmul on this machine, same threads, same run
    train_utilisation: float
    rank_utilisation: float
    step_ms: float
    model_state_mb: float  # weights + optimiser moments: what the trainer must hold
    import_floor_mb: float  # peak RSS of a process that only imports the trainer's code


def matmul_peak_gflops(seconds: float = 1.0) -> float:
    """Best fp32 GEMM rate here: the reference for model FLOP utilisation."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * 1024**3 / (time.perf_counter() - started))
    return best / 1e9


def taobao_batches(limit: int) -> list[list[UserSequence]]:
    events = read_taobao(shared_data_dir() / "taobao-userbehavior-96k" / "UserBehavior.csv")
    return [batch for batch, _n in micro_batches(events[:limit], 256, 50, 30 * 86_400.0)]


def sessions_batches(limit: int) -> list[list[UserSequence]]:
    """The sessions profile (bench/profiles.py), one event per second of stream time."""
    # New events, not the profile's re-timed in place: a profile shorter than ``limit``
    # repeats the same event objects, which would be shifted twice.
    events = [RawEvent(user_id=e["user_id"], item_id=e["item_id"], action=e["action"],
                       ts=1.7e9 + e["ts"]) for e in PROFILES["sessions"].events(limit)]  # fmt: skip
    return [batch for batch, _n in micro_batches(events, 256, 50, 30 * 86_400.0)]


def random_batches(count: int, users: int, catalogue: int, seed: int) -> list[list[UserSequence]]:
    rng = random.Random(seed)
    batches = []
    for b in range(count):
        batch = []
        for u in range(users):
            items = [f"i{rng.randrange(catalogue)}" for _ in range(50)]
            actions = [rng.choice(ACTIONS) for _ in range(50)]
            ts = [1.7e9 + 60.0 * (b * 50 + j) for j in range(50)]
            batch.append(UserSequence(f"u{b}-{u}", items, actions, ts, 2))
        batches.append(batch)
    return batches


def model_state_mb(learner: TransformerLearner) -> float:
    tensors: list[torch.Tensor] = list(learner.model.parameters())
    for optimizer in (learner.table.sparse_optimizer, learner.table.dense_optimizer):
        for state in optimizer.state.values():
            tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def import_floor_mb() -> float:
    """The trainer's memory floor: torch, transformers, Faust and our code, no model."""
    probe = (
        "import stream.trainer.app, model.transformer_learner, pathlib\n"
        "print(next(l for l in pathlib.Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmHWM')).split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=REPO_ROOT)  # fmt: skip
    return int(out.stdout.strip()) / 1024


def counted_gflop(fn: Any) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops()) / 1e9


def measure(
    case: str, learner: TransformerLearner, warm: list[list[UserSequence]],
    timed: list[list[UserSequence]], k: int, peak: float, floor: float,
) -> TrainerCase:  # fmt: skip
    for batch in track(warm, description=f"{case}: warming up", console=console):
        learner.learn(batch, k=k)
    rank_s = train_s = 0.0
    users = samples = 0
    started = time.perf_counter()
    for batch in track(timed, description=f"{case}: timing learn()", console=console):
        report = learner.learn(batch, k=k)
        rank_s += report.eval_s
        train_s += report.train_s
        users += len(batch)
        samples += report.trained_positions
    learn_s = time.perf_counter() - started
    started = time.perf_counter()
    for batch in timed:
        learner.recommend(batch, k)
    recommend_s = time.perf_counter() - started

    # FLOPs of one step: the ranking pass alone (evaluate + top-k), then the whole learn.
    probe = timed[-1]
    rank_flop = counted_gflop(lambda: learner._score(probe, k, StepReport(0, len(probe))))
    reports: list[StepReport] = []
    learn_flop = counted_gflop(lambda: reports.append(learner.learn(probe, k=k)))
    train_per_sample = (learn_flop - rank_flop) / max(reports[0].trained_positions, 1)
    rank_per_user = rank_flop / len(probe)
    train_rate = samples / max(train_s, 1e-9)
    rank_rate = users / max(rank_s, 1e-9)
    return TrainerCase(
        case=case, catalogue=len(learner.vocab), steps=len(timed),
        users_per_step=users / len(timed),
        train_samples_per_s=train_rate, learn_users_per_s=users / learn_s,
        rank_users_per_s=rank_rate, recommend_users_per_s=users / recommend_s,
        train_gflop_per_sample=train_per_sample, rank_gflop_per_user=rank_per_user,
        train_gflops=train_rate * train_per_sample, rank_gflops=rank_rate * rank_per_user,
        peak_gflops=peak,
        train_utilisation=train_rate * train_per_sample / peak,
        rank_utilisation=rank_rate * rank_per_user / peak,
        step_ms=1000 * learn_s / len(timed), model_state_mb=model_state_mb(learner),
        import_floor_mb=floor,
    )  # fmt: skip


def run(settings: Settings, quick: bool) -> list[TrainerCase]:
    threads = configure_threads(settings.trainer.torch_threads)
    config = dataclasses.replace(learner_config(settings), device="cpu")
    k = settings.trainer.top_k
    peak = matmul_peak_gflops()
    floor = import_floor_mb()
    console.print(f"fp32 matmul reference: {peak:,.1f} GFLOP/s on {threads} thread(s)")
    results = []

    batches = taobao_batches(30_000 if quick else 96_168)
    warm_count = len(batches) // 2
    timed = batches[warm_count:][: 20 if quick else 120]
    results.append(measure("taobao", TransformerLearner(config), batches[:warm_count], timed, k,
                           peak, floor))  # fmt: skip

    batches = sessions_batches(30_000 if quick else 96_000)
    warm_count = len(batches) // 2
    timed = batches[warm_count:][: 20 if quick else 120]
    results.append(measure("sessions", TransformerLearner(config), batches[:warm_count], timed, k,
                           peak, floor))  # fmt: skip

    catalogue = 200_000 if quick else 1_000_000
    learner = TransformerLearner(config)
    learner.add_items([f"i{n}" for n in range(catalogue)], now=0.0)
    batches = random_batches(4 if quick else 12, 256, catalogue, seed=1)
    name = f"{catalogue // 1000:,}k items" if catalogue < 1_000_000 else "1M items"
    results.append(measure(name, learner, batches[:2], batches[2:], k, peak, floor))
    return results


def print_table(results: list[TrainerCase], title: str) -> None:
    table = Table("case", "items", "users/step", "step ms", "train samples/s", "GFLOP/sample",
                  "train util.", "rank users/s", "GFLOP/user", "rank util.", "recommend users/s",
                  "peak GFLOP/s", title=title)  # fmt: skip
    for r in results:
        table.add_row(
            r.case, f"{r.catalogue:,}", f"{r.users_per_step:,.0f}", f"{r.step_ms:,.0f}",
            f"{r.train_samples_per_s:,.0f}", f"{r.train_gflop_per_sample:.3f}",
            f"{r.train_utilisation:.1%}", f"{r.rank_users_per_s:,.0f}",
            f"{r.rank_gflop_per_user:.3f}", f"{r.rank_utilisation:.1%}",
            f"{r.recommend_users_per_s:,.0f}", f"{r.peak_gflops:,.1f}",
        )  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    args = parser.parse_args()
    settings = load_settings(args.config)
    results = run(settings, args.quick)
    print_table(results, f"trainer on the CPU, {args.config.name}")
    out = write_result("trainer", {
        "config": args.config.name, "quick": args.quick,
        "torch_threads": torch.get_num_threads(), "results": [asdict(r) for r in results],
    })  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
