"""PNG plots of the ingest and trainer benchmarks (freshness and quality plot their own)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from bench.ingest import IngestRun, best
from bench.trainer import TrainerCase


def plot_ingest(runs: list[IngestRun], out: Path) -> None:
    top = best(runs)
    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(top)
    ax.barh(names, [top[n].events_per_s for n in names], color="tab:blue")
    for i, n in enumerate(names):
        ax.annotate(
            f"{top[n].events_per_s:,.0f}/s, {top[n].cpu_us_per_event:,.0f} µs CPU/event",
            (top[n].events_per_s, i),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(right=8 * max(r.events_per_s for r in top.values()))
    ax.set_xlabel("events/s reading one backlog (log)")
    ax.set_title("ingest: sequencer next to its references")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_trainer(cases: list[TrainerCase], out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    names = [c.case for c in cases]
    axes[0].bar(names, [c.train_samples_per_s for c in cases], color="tab:orange")
    axes[0].set_title("training samples/s")
    axes[1].bar(names, [c.rank_users_per_s for c in cases], label="ranking pass of learn()")
    axes[1].bar(
        names, [c.recommend_users_per_s for c in cases], alpha=0.5, label="recommend() top-k only"
    )
    axes[1].set_yscale("log")
    axes[1].set_title("users/s ranked against the catalogue")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
