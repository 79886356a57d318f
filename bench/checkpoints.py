"""Checkpoint sizes and times: a full snapshot next to the deltas that follow it.

    python -m bench.checkpoints [--config configs/default.yaml] [--steps-between 50]
                                [--deltas 3] [--catalogues taobao 100000]
                                [--modes full adapters] [--row-updates all sequences targets]
                                [--item-ranks 8 0]

For each catalogue, online mode and item-row policy (``model.item_row_updates``) the
learner (model settings from --config) first learns a stream in full mode (the Taobao
96k sample, or a vocabulary of N items admitted at once followed by Taobao-shaped batches
over it: the "pretraining"), switches to adapters for that mode, then writes a full
snapshot and --deltas deltas, --steps-between training steps apart, into a fresh store;
then restores the full snapshot alone and the whole chain, and checks the chain restores
the learner bit for bit. Prints a table and writes bench/results/checkpoints-<time>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import tempfile
import time
from itertools import accumulate
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointInfo, CheckpointStore, encoded_state
from model.contract import UserSequence
from model.learner_config import ITEM_ROW_UPDATES
from model.transformer_learner import TransformerLearner
from stream.data.event_files import read_taobao, shared_data_dir
from stream.paths import REPO_ROOT
from stream.replay.prequential import micro_batches
from stream.settings import load_settings
from stream.trainer.learner_factory import learner_config

console = Console(width=160)


def taobao_batches(limit: int) -> list[list[UserSequence]]:
    events = read_taobao(shared_data_dir() / "taobao-userbehavior-96k" / "UserBehavior.csv")
    return [batch for batch, _n in micro_batches(events[:limit], 256, 50, 30 * 86_400)]


def random_batches(items: int, count: int, seed: int = 0) -> list[list[UserSequence]]:
    """Batches of 256 users whose windows draw from ``items`` items (Zipf-like)."""
    rng = random.Random(seed)
    # Cumulative once: choices(weights=...) sums the weights on every call (1M items).
    cumulative = list(accumulate(1.0 / (i + 1) ** 0.8 for i in range(items)))
    out = []
    for b in range(count):
        batch = []
        for u in range(256):
            length = rng.randint(2, 20)
            chosen = rng.choices(range(items), cum_weights=cumulative, k=length)
            batch.append(UserSequence(f"u{b}-{u}", [f"i{i}" for i in chosen], ["view"] * length,
                                      [float(b * 100 + j) for j in range(length)], 1))  # fmt: skip
        out.append(batch)
    return out


def interval_items(batches: list[list[UserSequence]]) -> tuple[int, int]:
    """(new events, distinct items they name) in ``batches``: a delta that learns each new
    event's item holds at least that many rows, whatever else it skips."""
    items = [s.items[i] for batch in batches for s in batch
             for i in range(len(s.items) - s.new_count, len(s.items))]  # fmt: skip
    return len(items), len(set(items))


def delta_parts(store: CheckpointStore, info: CheckpointInfo) -> dict[str, int]:
    """A delta's bytes by part: its row tensors by kind of row state (their index
    included), every other tensor as "whole" (dense weights, moments, generators), and its
    JSON state by key."""
    tensors, state = store.read(info)
    kinds = state.get("row_kinds", {})
    # The JSON part, gzipped as stored: the vocabulary's and the replay buffer's diffs,
    # and the rest (each compressed alone: their sum is near the file's size).
    diffs = ("vocabulary_delta", "replay_delta")
    parts = {f"json.{key}": len(encoded_state(state[key])) for key in diffs if key in state}
    rest = {key: value for key, value in state.items() if key not in diffs}
    parts["json.other"] = len(encoded_state(rest))
    for key, tensor in tensors.items():
        if key.startswith("rows.index."):
            part = key.removeprefix("rows.index.")
        elif key.startswith("rows."):
            part = kinds.get(key.removeprefix("rows."), "rows")
        else:
            part = "whole"
        parts[part] = parts.get(part, 0) + tensor.numel() * tensor.element_size()
    return parts


def measure(name: str, learner: TransformerLearner, steps: list[list[UserSequence]],
            deltas: int, between: int) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = CheckpointStore(Path(tmp) / "ckpt", keep_chains=2)
        checkpointer = LearnerCheckpointer(store, full_every=deltas + 1)
        started = time.perf_counter()
        full = checkpointer.save(learner, {})
        full_write = time.perf_counter() - started
        delta_infos, delta_writes, intervals = [], [], []
        parts: list[dict[str, int]] = []
        for d in range(deltas):
            interval = steps[d * between : (d + 1) * between]
            intervals.append(interval_items(interval))
            for batch in interval:
                learner.learn(batch)
            started = time.perf_counter()
            delta_infos.append(checkpointer.save(learner, {}))
            delta_writes.append(time.perf_counter() - started)
            parts.append(delta_parts(store, delta_infos[-1]))
        started = time.perf_counter()
        only_full = LearnerCheckpointer(store).restore(at_most_version=full.model_version)
        full_restore = time.perf_counter() - started
        started = time.perf_counter()
        chain = LearnerCheckpointer(store).restore()
        chain_restore = time.perf_counter() - started
        assert only_full is not None and chain is not None
        assert chain[0].fingerprint() == learner.fingerprint(), "the chain restored another model"
    rows = [info.extra["vocabulary"].get("rows_changed", 0) for info in delta_infos]
    by_kind = [info.extra["vocabulary"].get("rows_changed_by_kind", {}) for info in delta_infos]
    kinds = sorted({kind for counts in by_kind for kind in counts})
    return {
        "catalogue": name,
        "mode": learner.config.online,
        "row_updates": learner.config.item_row_updates,
        "bit_exact": True,
        "items": len(learner.vocab),
        "table_rows": int(learner.model.item_embeddings.shape[0]),
        "full_bytes": full.bytes,
        "full_write_s": full_write,
        "full_restore_s": full_restore,
        "delta_bytes_mean": sum(i.bytes for i in delta_infos) / max(len(delta_infos), 1),
        "delta_rows_changed_mean": sum(rows) / max(len(rows), 1),
        # The rows each kind of row state is stored at (model/dirty_rows.py).
        "delta_rows_by_kind_mean": {
            kind: sum(c.get(kind, 0) for c in by_kind) / max(len(by_kind), 1) for kind in kinds
        },
        # Bytes of each part of a delta: row tensors by kind, and the rest whole.
        "delta_bytes_by_part_mean": {
            part: sum(p.get(part, 0) for p in parts) / max(len(parts), 1)
            for part in sorted({part for p in parts for part in p})
        },
        "item_rank": learner.config.adapters.item_rank
        if learner.config.online == "adapters"
        else None,
        "interval_events_mean": sum(e for e, _ in intervals) / max(len(intervals), 1),
        "interval_distinct_items_mean": sum(i for _, i in intervals) / max(len(intervals), 1),
        "delta_write_s_mean": sum(delta_writes) / max(len(delta_writes), 1),
        "chain_restore_s": chain_restore,
        "deltas": deltas,
        "steps_between": between,
        "sampled_softmax": len(learner.vocab) > learner.config.full_softmax_max_items,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    parser.add_argument("--steps-between", type=int, default=50)
    parser.add_argument("--deltas", type=int, default=3)
    parser.add_argument("--catalogues", nargs="+", default=["taobao", "100000"])
    parser.add_argument("--modes", nargs="+", choices=["full", "adapters"],
                        default=["full", "adapters"])  # fmt: skip
    parser.add_argument("--row-updates", nargs="+", choices=list(ITEM_ROW_UPDATES),
                        default=list(ITEM_ROW_UPDATES), help="the item rows a step moves "
                        "(model.item_row_updates)")  # fmt: skip
    parser.add_argument("--item-ranks", nargs="+", type=int, default=None,
                        help="adapters mode: floats each item row learns "
                        "(model.adapter_item_rank; 0: whole rows); default: the config's",
                        )  # fmt: skip
    args = parser.parse_args()
    base = learner_config(load_settings(args.config))
    results = []
    ranks = args.item_ranks or [base.adapters.item_rank]
    variants = [(c, m, n, r) for c in args.catalogues for m in args.modes
                for n in args.row_updates for r in (ranks if m == "adapters" else [0])]  # fmt: skip
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:  # fmt: skip
        task = progress.add_task("checkpoints", total=len(variants))
        for catalogue, mode, rows, rank in variants:
            progress.update(task, description=f"{catalogue} {mode} rows {rows} rank {rank}")
            config = dataclasses.replace(base, item_row_updates=rows)
            learner = TransformerLearner(config)
            need = args.deltas * args.steps_between
            if catalogue == "taobao":
                batches = taobao_batches(96_000)
                warm, steps = batches[: len(batches) - need], batches[len(batches) - need :]
            else:
                items = int(catalogue)
                learner.add_items([f"i{i}" for i in range(items)], 0.0)  # all at once
                warm, steps = random_batches(items, 5), random_batches(items, need, seed=1)
            for batch in warm:
                learner.learn(batch)
            if mode == "adapters":
                learner.use_adapters(dataclasses.replace(base.adapters, item_rank=rank))
            results.append(measure(catalogue, learner, steps, args.deltas, args.steps_between))
            progress.advance(task)

    table = Table("catalogue", "mode", "rows moved", "item rank", "items", "full MB", "write s",
                  "restore s", "delta MB (mean)", "rows changed (weights)", "events between",
                  "their items", "delta write s",
                  "full+deltas restore s", "delta/full", "bit-exact",
                  title=f"checkpoints, {args.config.name}, "
                        f"{args.steps_between} steps apart")  # fmt: skip
    for r in results:
        table.add_row(
            r["catalogue"], r["mode"], r["row_updates"],
            "-" if r["item_rank"] is None else str(r["item_rank"]), f"{r['items']:,}",
            f"{r['full_bytes'] / 1e6:.1f}",
            f"{r['full_write_s']:.2f}", f"{r['full_restore_s']:.2f}",
            f"{r['delta_bytes_mean'] / 1e6:.1f}",
            f"{r['delta_rows_changed_mean']:,.0f} "
            f"({r['delta_rows_by_kind_mean'].get('weights', 0):,.0f})",
            f"{r['interval_events_mean']:,.0f}", f"{r['interval_distinct_items_mean']:,.0f}",
            f"{r['delta_write_s_mean']:.2f}", f"{r['chain_restore_s']:.2f}",
            f"{r['delta_bytes_mean'] / r['full_bytes']:.1%}", "yes" if r["bit_exact"] else "NO",
        )  # fmt: skip
    console.print(table)
    out = REPO_ROOT / "bench" / "results" / f"checkpoints-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "checkpoints", "config": args.config.name,
        "machine": {"cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
        "results": results,
    }, indent=2))  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
