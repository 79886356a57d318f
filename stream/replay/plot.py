"""PNG plots of replay reports: NDCG@10 over the stream, one line per report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display here
import matplotlib.pyplot as plt


def plot_reports(reports: Sequence[dict[str, Any]], out: Path, metric: str = "ndcg@10") -> None:
    fig, ax = plt.subplots(figsize=(9, 5))
    for report in reports:
        curve = report["curve"]
        overall = report["metrics"]["overall"][metric]
        ax.plot([p["events"] for p in curve], [p[metric] for p in curve],
                label=f"{report['model']} ({overall:.4f})", linewidth=1.6)  # fmt: skip
    ax.set_xlabel("events in the stream")
    ax.set_ylabel(f"{metric.upper()} over the last window (test-then-train)")
    ax.set_title(
        f"Prequential {metric.upper()}" + (f" - {reports[0].get('dataset', '')}" if reports else "")
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
