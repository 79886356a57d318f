"""The suite's headline table and its markdown report.

Works on the benchmarks' JSON-ready dicts, so a report can be rebuilt from result files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.ingest import IngestRun, best


@dataclass(frozen=True)
class Headline:
    benchmark: str
    figure: str
    value: str
    reference: str
    reference_value: str
    ratio: str


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and math.isfinite(a) and math.isfinite(b) else "-"


def _best_by_runner(
    runs: list[dict[str, Any]], profile: str | None = None
) -> dict[str, dict[str, Any]]:
    """bench.ingest.best over result dicts (as they are in the JSON files)."""
    of = [IngestRun(**r) for r in runs]
    return {name: asdict(run) for name, run in best(of, profile).items()}


def _ingest_headlines(top: dict[str, dict[str, Any]], profile: str) -> list[Headline]:
    """The sequencer next to each reference, on one traffic profile."""
    if "sequencer" not in top:
        return []
    seq = top["sequencer"]["events_per_s"]
    return [
        Headline("ingest", f"{profile}: sequencer events/s, 1 worker", f"{seq:,.0f}", ref,
                 f"{top[ref]['events_per_s']:,.0f}", _ratio(seq, top[ref]["events_per_s"]))
        for ref in ("empty faust agent", "raw aiokafka")
        if ref in top
    ]  # fmt: skip


def headline_rows(results: dict[str, Any]) -> list[Headline]:
    rows: list[Headline] = []
    ingest_runs = results.get("ingest", [])
    profiles = list(dict.fromkeys(r.get("profile", "taobao") for r in ingest_runs))
    for profile in profiles[1:]:
        rows += _ingest_headlines(_best_by_runner(ingest_runs, profile), profile)
    top = _best_by_runner(ingest_runs)
    if "sequencer" in top:
        rows += _ingest_headlines(top, profiles[0])
        seq = top["sequencer"]["events_per_s"]
        stalls = [r for r in results.get("ingest", []) if r.get("stalled_at") is not None]
        if stalls:
            runs_of = {r["runner"] for r in stalls}
            rows.append(
                Headline(
                    "ingest",
                    "runs that stopped reading",
                    f"{len(stalls)} ({', '.join(sorted(runs_of))})",
                    "runs",
                    str(len(results["ingest"])),
                    "-",
                )
            )
        if "sequencer x2" in top:
            two = top["sequencer x2"]["events_per_s"]
            rows.append(
                Headline(
                    "ingest",
                    "sequencer events/s, 2 workers",
                    f"{two:,.0f}",
                    "1 worker",
                    f"{seq:,.0f}",
                    _ratio(two, seq),
                )
            )
    rows += _scale_out_headlines(results.get("scale-out") or {})
    fresh = results.get("freshness", [])
    for source in dict.fromkeys(r.get("source", "taobao") for r in fresh):
        of_source = [r for r in fresh if r.get("source", "taobao") == source]
        ok = [r["target_rate"] for r in of_source if r["p99_s"] < 1.0 and r["caught_up"]]
        tried = ", ".join(f"{r['target_rate']:,.0f}" for r in of_source)
        best_rate = f"{max(ok):,.0f} ev/s" if ok else "none"
        rows.append(
            Headline(
                "freshness", f"{source}: highest rate with p99 < 1 s", best_rate, "rates tried",
                tried, "-",
            )
        )  # fmt: skip
        for r in of_source:
            rows.append(
                Headline(
                    "freshness",
                    f"{source}: p99 at {r['target_rate']:,.0f} ev/s",
                    f"{r['p99_s']:.2f} s",
                    "1 s goal",
                    "1.00 s",
                    _ratio(r["p99_s"], 1.0),
                )
            )
    if fresh:
        seq_rss = max(r["sequencer_peak_rss_mb"] for r in fresh)
        trainer_rss = max(r["trainer_peak_rss_mb"] for r in fresh)
        agent = top.get("empty faust agent")
        if agent:
            rows.append(
                Headline(
                    "memory",
                    "sequencer peak RSS",
                    f"{seq_rss:,.0f} MB",
                    "empty Faust agent",
                    f"{agent['peak_rss_mb']:,.0f} MB",
                    _ratio(seq_rss, agent["peak_rss_mb"]),
                )
            )
        cases = results.get("trainer", [])
        if cases:
            floor = cases[0]["import_floor_mb"]
            state = cases[0]["model_state_mb"]
            rows.append(
                Headline(
                    "memory",
                    "trainer peak RSS",
                    f"{trainer_rss:,.0f} MB",
                    f"libraries imported + model state ({cases[0]['case']})",
                    f"{floor:,.0f} + {state:,.0f} MB",
                    _ratio(trainer_rss, floor + state),
                )
            )
    for c in results.get("trainer", []):
        peak = f"{c['peak_gflops']:,.0f} GFLOP/s"
        rows.append(
            Headline(
                "trainer",
                f"train samples/s, {c['case']}",
                f"{c['train_samples_per_s']:,.0f}",
                "fp32 matmul peak",
                peak,
                f"{c['train_utilisation']:.1%} util.",
            )
        )
        rows.append(
            Headline(
                "trainer",
                f"ranking users/s, {c['case']}",
                f"{c['rank_users_per_s']:,.0f}",
                "fp32 matmul peak",
                peak,
                f"{c['rank_utilisation']:.1%} util.",
            )
        )
    by_data: dict[str, dict[str, dict[str, Any]]] = {}
    for q in results.get("quality", []):
        by_data.setdefault(q["dataset"], {})[q["model"]] = q
    for name, models in by_data.items():
        t = models["transformer"]
        for ref in ("popularity", "recent", "retrain"):
            r = models[ref]
            ratio = (
                f"{_ratio(t['ndcg10'], r['ndcg10'])} "
                f"({_ratio(t['compute_s'], r['compute_s'])} compute)"
            )
            rows.append(
                Headline(
                    "quality",
                    f"{name} NDCG@10 (compute s)",
                    f"{t['ndcg10']:.4f} ({t['compute_s']:,.0f} s)",
                    ref,
                    f"{r['ndcg10']:.4f} ({r['compute_s']:,.0f} s)",
                    ratio,
                )
            )
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(
    headlines: list[Headline],
    results: dict[str, Any],
    files: dict[str, Path],
    machine: dict[str, Any],
    quick: bool,
    minutes: float,
    note: str = "",
) -> str:
    gpu = machine.get("gpu") or "none"
    parts = [
        f"# recstream benchmarks, {'quick' if quick else 'full'} run",
        "",
        f"Machine: {machine['cpus']} cores, {machine['cpu_model']}, "
        f"{machine['memory_gb']} GB, GPU: {gpu}, Python {machine['python']}. "
        f"Took {minutes:.1f} min. Reproduce: `make {'bench-quick' if quick else 'bench'}`.",
        *([note] if note else []),
        "",
        "## Headline (each figure next to its reference, same run)",
        "",
        _table(
            ["benchmark", "figure", "measured", "reference", "reference value", "ratio"],
            [
                [h.benchmark, h.figure, h.value, h.reference, h.reference_value, h.ratio]
                for h in headlines
            ],
        ),
    ]
    if "ingest" in results:
        parts += [
            "",
            "## Ingest",
            "",
            _table(
                [
                    "profile",
                    "runner",
                    "run",
                    "events",
                    "seconds",
                    "events/s",
                    "CPU µs/event",
                    "peak RSS MB",
                ],
                [
                    [
                        r.get("profile", "taobao"),
                        r["runner"],
                        str(r["repeat"] + 1),
                        f"{r['events']:,}",
                        f"{r['seconds']:.1f}",
                        f"{r['events_per_s']:,.0f}",
                        f"{r['cpu_us_per_event']:,.0f}",
                        f"{r['peak_rss_mb']:,.0f}",
                    ]
                    for r in results["ingest"]
                ],
            ),
        ]
    if "freshness" in results:
        parts += [
            "",
            "## Freshness and memory",
            "",
            _table(
                [
                    "profile",
                    "events/s",
                    "sent/s",
                    "users",
                    "users/s",
                    "p50 s",
                    "p95 s",
                    "p99 s",
                    "caught up",
                    "users/step",
                    "step ms",
                    "deferred",
                    "trained",
                    "RSS seq/trainer MB",
                    "CPU s seq/trainer",
                    "machine busy",
                ],
                [
                    [
                        r.get("source", "taobao"),
                        f"{r['target_rate']:,.0f}",
                        f"{r['sent_rate']:,.0f}",
                        f"{r.get('users', 0):,}",
                        f"{r.get('users_per_second', 0):,.0f}",
                        f"{r['p50_s']:.3f}",
                        f"{r['p95_s']:.3f}",
                        f"{r['p99_s']:.3f}",
                        "yes" if r["caught_up"] else "NO",
                        f"{r['mean_batch_users']:,.0f}",
                        f"{r['mean_step_ms']:,.0f}",
                        f"{r['untrained_fraction']:.0%}",
                        f"{r.get('trained_share', float('nan')):.0%}",
                        f"{r['sequencer_peak_rss_mb']:,.0f} / {r['trainer_peak_rss_mb']:,.0f}",
                        f"{r['sequencer_cpu_s']:,.0f} / {r['trainer_cpu_s']:,.0f}",
                        f"{r['machine_busy_fraction']:.0%}",
                    ]
                    for r in results["freshness"]
                ],
            ),
        ]
    if "trainer" in results:
        parts += [
            "",
            "## Trainer (CPU)",
            "",
            _table(
                [
                    "case",
                    "items",
                    "users/step",
                    "step ms",
                    "train samples/s",
                    "GFLOP/sample",
                    "train util.",
                    "rank users/s",
                    "GFLOP/user",
                    "rank util.",
                    "recommend users/s",
                    "peak GFLOP/s",
                    "model state MB",
                ],
                [
                    [
                        c["case"],
                        f"{c['catalogue']:,}",
                        f"{c['users_per_step']:,.0f}",
                        f"{c['step_ms']:,.0f}",
                        f"{c['train_samples_per_s']:,.0f}",
                        f"{c['train_gflop_per_sample']:.3f}",
                        f"{c['train_utilisation']:.1%}",
                        f"{c['rank_users_per_s']:,.0f}",
                        f"{c['rank_gflop_per_user']:.3f}",
                        f"{c['rank_utilisation']:.1%}",
                        f"{c['recommend_users_per_s']:,.0f}",
                        f"{c['peak_gflops']:,.1f}",
                        f"{c['model_state_mb']:,.0f}",
                    ]
                    for c in results["trainer"]
                ],
            ),
        ]
    if "quality" in results:
        parts += [
            "",
            "## Quality vs cost",
            "",
            _table(
                [
                    "data",
                    "model",
                    "events",
                    "NDCG@10",
                    "HR@10",
                    "vs popularity",
                    "compute s",
                    "vs transformer",
                ],
                [
                    [
                        q["dataset"],
                        q["model"],
                        f"{q['events']:,}",
                        f"{q['ndcg10']:.4f}",
                        f"{q['hr10']:.4f}",
                        f"{q['ndcg_vs_popularity']:.1f}x",
                        f"{q['compute_s']:,.1f}",
                        f"{q['compute_vs_transformer']:.2f}x",
                    ]
                    for q in results["quality"]
                ],
            ),
        ]
    parts += ["", "## Files", ""]
    for name, path in files.items():
        png = path.with_suffix(".png")
        parts.append(
            f"- {name}: [{path.name}]({path.name})"
            + (f", ![{name}]({png.name})" if png.exists() else "")
        )
    return "\n".join(parts) + "\n"


def _scale_out_headlines(scale: dict[str, Any]) -> list[Headline]:
    """A trainer group of two next to one trainer: NDCG@10 and training samples/s."""
    rows = []
    replays = scale.get("replay", [])
    for profile in dict.fromkeys(r["profile"] for r in replays):
        by_ranks = {r["ranks"]: r for r in replays if r["profile"] == profile}
        one, two = by_ranks.get(1), by_ranks.get(2)
        if one is None or two is None:
            continue
        rows.append(Headline("scale-out", f"{profile}: NDCG@10, 2 ranks", f"{two['ndcg10']:.4f}",
                             "1 rank", f"{one['ndcg10']:.4f}",
                             _ratio(two["ndcg10"], one["ndcg10"])))  # fmt: skip
        rows.append(Headline("scale-out", f"{profile}: training samples/s, 2 ranks",
                             f"{two['samples_per_s']:,.0f}", "1 rank",
                             f"{one['samples_per_s']:,.0f}",
                             _ratio(two["samples_per_s"], one["samples_per_s"])))  # fmt: skip
    return rows
