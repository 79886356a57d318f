"""PNG of a demo run: quality, freshness and throughput over time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display here
import matplotlib.pyplot as plt

from stream.demo.snapshot import Snapshot


def plot_run(snapshots: Sequence[Snapshot], out: Path, title: str) -> None:
    t = [s.elapsed_s for s in snapshots]
    fig, (quality, fresh, flow) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    quality.plot(t, [s.ndcg10 for s in snapshots], label="online NDCG@10")
    quality.plot(t, [s.hr10 for s in snapshots], label="online HR@10")
    quality.set_ylabel("test-then-train quality\n(recent window)")
    quality.legend()
    for attr, label in (("fresh_p50", "p50"), ("fresh_p99", "p99")):
        points = [(s.elapsed_s, getattr(s, attr)) for s in snapshots]
        points = [(x, y) for x, y in points if y is not None]
        fresh.plot([x for x, _ in points], [y for _, y in points], label=f"freshness {label}")
    fresh.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="1 s goal")
    fresh.set_ylabel("event -> recommendation (s)")
    fresh.legend()
    flow.plot(t, [s.events_per_s for s in snapshots], label="events/s in")
    flow.plot(t, [s.recommendations_per_s for s in snapshots], label="recommendations/s out")
    flow.set_ylabel("per second")
    flow.set_xlabel("seconds since start")
    flow.legend()
    for ax in (quality, fresh, flow):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
