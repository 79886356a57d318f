"""The benchmark suite's headline rows and report, from result dicts."""

from __future__ import annotations

from pathlib import Path

from bench.report import headline_rows, markdown_report


def ingest_run(
    runner: str, rate: float, stalled_at: int | None = None, profile: str = "taobao"
) -> dict[str, object]:
    return {"runner": runner, "repeat": 0, "events": 1000, "seconds": 1000 / rate,
            "events_per_s": rate, "cpu_us_per_event": 100.0, "peak_rss_mb": 100.0,
            "stalled_at": stalled_at, "profile": profile}  # fmt: skip


def test_ratios_use_the_best_finished_run_and_stalls_are_reported() -> None:
    results = {
        "ingest": [
            ingest_run("empty faust agent", 8_000.0),
            ingest_run("sequencer", 2_000.0),
            ingest_run("sequencer x2", 3_000.0),
            ingest_run("sequencer x2", float("nan"), stalled_at=700),
            ingest_run("empty faust agent", 4_000.0, profile="sessions"),
            ingest_run("sequencer", 3_000.0, profile="sessions"),
        ]
    }
    rows = {(r.figure, r.reference): r for r in headline_rows(results)}
    floor = rows[("taobao: sequencer events/s, 1 worker", "empty faust agent")]
    assert (floor.value, floor.ratio) == ("2,000", "0.25x")
    sessions = rows[("sessions: sequencer events/s, 1 worker", "empty faust agent")]
    assert (sessions.value, sessions.ratio) == ("3,000", "0.75x")
    assert rows[("sequencer events/s, 2 workers", "1 worker")].ratio == "1.50x"
    assert rows[("runs that stopped reading", "runs")].value == "1 (sequencer x2)"


def test_quality_rows_compare_the_transformer_with_its_alternatives() -> None:
    def row(model: str, ndcg: float, seconds: float) -> dict[str, object]:
        return {"dataset": "d", "model": model, "events": 10, "ndcg10": ndcg, "hr10": 0.1,
                "compute_s": seconds, "train_s": 0.0, "ndcg_vs_popularity": 1.0,
                "compute_vs_transformer": 1.0}  # fmt: skip

    results = {"quality": [row("transformer", 0.08, 10.0), row("popularity", 0.01, 0.5),
                           row("recent", 0.04, 0.5), row("retrain", 0.02, 5.0)]}  # fmt: skip
    rows = [r for r in headline_rows(results) if r.reference == "popularity"]
    assert rows[0].ratio == "8.00x (20.00x compute)"
    text = markdown_report(
        headline_rows(results), results, {"quality": Path("quality-x.json")},
        {"cpus": 2, "cpu_model": "cpu", "memory_gb": 1.0, "gpu": None, "python": "3.11"},
        quick=True, minutes=1.0,
    )  # fmt: skip
    assert "| d | transformer | 10 | 0.0800 |" in text and "make bench-quick" in text
