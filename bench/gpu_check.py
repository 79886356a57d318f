"""GPU check of the incremental learner: CUDA (bf16 autocast) against the CPU on the same
batch, then learner throughput for the large (gpu.yaml-sized) model with a 1,000,000-item
catalogue at several batch sizes. Imports only ``model/`` (torch, transformers,
safetensors), so it runs on a GPU machine without the Kafka stack.

    python3 -m bench.gpu_check [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

import torch

from model.contract import UserSequence
from model.sequential_recommender import RecommenderConfig
from model.transformer_learner import LearnerConfig, TransformerLearner

ACTIONS = ("view", "click", "purchase")
H200_BF16_PEAK = 989e12  # dense bf16 FLOP/s, vendor figure (about 790 measured on this kind)


def random_batch(users: int, length: int, items: int, new: int, seed: int) -> list[UserSequence]:
    rng = random.Random(seed)
    batch = []
    for u in range(users):
        seq = [f"i{rng.randrange(items)}" for _ in range(length)]
        acts = [rng.choice(ACTIONS) for _ in range(length)]
        ts = [1_700_000_000.0 + 30.0 * j for j in range(length)]
        batch.append(UserSequence(f"u{seed}-{u}", seq, acts, ts, new))
    return batch


def correctness(quick: bool) -> dict[str, object]:
    """Same init, same batches: CPU fp32 and CUDA bf16 losses must track each other."""
    config = LearnerConfig(
        model=RecommenderConfig(hidden_size=64, num_layers=2, num_heads=2, max_len=50, dropout=0.0),
        full_softmax_max_items=100_000, replay_ratio=0.0, seed=7,
    )  # fmt: skip
    items = 2_000 if quick else 5_000
    batches = [random_batch(128, 50, items, 5, seed=s) for s in range(5)]
    losses: dict[str, list[float]] = {}
    metrics: dict[str, list[float]] = {}
    for device in ("cpu", "cuda"):
        learner = TransformerLearner(LearnerConfig(**{**config.__dict__, "device": device}))
        learner.vocab.observe([f"i{n}" for n in range(items)], now=0.0)
        learner._grow()
        reports = [learner.learn(batch) for batch in batches]
        losses[device] = [r.losses["total"] for r in reports]
        metrics[device] = [r.overall.means()["ndcg@10"] for r in reports]
    rel = [abs(c - g) / abs(c) for c, g in zip(losses["cpu"], losses["cuda"], strict=True)]
    return {
        "losses_cpu": losses["cpu"],
        "losses_cuda_bf16": losses["cuda"],
        "max_relative_loss_error": max(rel),
        "ndcg10_cpu": metrics["cpu"],
        "ndcg10_cuda": metrics["cuda"],
        "within_bf16_tolerance": max(rel) < 2e-2,
    }


def dense_flops_per_token(learner: TransformerLearner) -> float:
    dense = sum(p.numel() for n, p in learner.model.named_parameters() if n != "item_embeddings")
    return 2.0 * dense


def throughput(quick: bool) -> list[dict[str, float]]:
    catalogue = 20_000 if quick else 1_000_000
    config = LearnerConfig(
        model=RecommenderConfig(
            hidden_size=256, num_layers=4, num_heads=4, max_len=200, dropout=0.1
        ),
        full_softmax_max_items=100_000, num_negatives=8_192, replay_ratio=0.0, device="cuda",
    )  # fmt: skip
    learner = TransformerLearner(config)
    started = time.perf_counter()
    learner.vocab.observe([f"i{n}" for n in range(catalogue)], now=0.0)
    learner._grow()
    setup_s = time.perf_counter() - started
    rows = []
    h, length, new, k = 256, 200, 5, 50
    for batch_size in (64, 128) if quick else (256, 1024, 2048):
        batches = [random_batch(batch_size, length, catalogue, new, seed=100 + s) for s in range(4)]
        learner.learn(batches[0], k=k)  # warm-up (kernels, allocator)
        torch.cuda.synchronize()
        eval_s = train_s = 0.0
        started = time.perf_counter()
        for batch in batches[1:]:
            report = learner.learn(batch, k=k)
            eval_s += report.eval_s
            train_s += report.train_s
        torch.cuda.synchronize()
        wall = time.perf_counter() - started
        steps = len(batches) - 1
        per_seq = (
            4 * dense_flops_per_token(learner) * (length + 1)  # eval forward + train fwd/bwd
            + 2 * (new + 1) * catalogue * h  # rank new events + top-k, over the catalogue
            + 6 * new * (config.num_negatives + 1) * h  # sampled softmax, fwd + bwd
        )
        achieved = per_seq * batch_size * steps / wall
        rows.append({
            "batch_size": batch_size, "catalogue": catalogue,
            "seq_per_s": batch_size * steps / wall,
            "step_s": wall / steps, "eval_share": eval_s / (eval_s + train_s),
            "flops_per_seq": per_seq, "achieved_tflops": achieved / 1e12,
            "mfu_vs_bf16_peak": achieved / H200_BF16_PEAK,
        })  # fmt: skip
        print(rows[-1], flush=True)
    rows.append({"vocab_setup_s": setup_s})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    assert torch.cuda.is_available(), "needs a CUDA GPU"
    result: dict[str, object] = {
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0),
        "host": platform.node(),
    }
    result["correctness"] = correctness(args.quick)
    print(json.dumps(result["correctness"], indent=1), flush=True)
    result["throughput"] = throughput(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
