"""Event -> recommendation freshness of the whole loop at fixed event rates.

    python -m bench.freshness [--rates 250 500 1000 2000] [--duration 40] [--warmup 10]
                              [--config configs/default.yaml]
                              [--source taobao sessions synthetic]

For each rate: fresh topics, a real sequencer and a real trainer process (settings
from --config), events produced at that rate for --duration seconds (re-timed to
the moment they are sent), then every recommendation read back. An event's
freshness is the time from its ts to the publication of the first recommendation
for its user whose window holds it (whose newest event is not older than it).
Events never reflected count as infinitely late. The first --warmup seconds are
left out of the percentiles (process start, first steps). Each --source is a traffic
profile (bench/profiles.py); the report names it with its users and distinct users
per second. Prints a table per profile, writes bench/results/freshness-<time>.json
and a PNG next to it.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import orjson
from rich.console import Console
from rich.table import Table

from bench.common import cpu_seconds, machine_ticks, peak_rss_mb, percentile, write_result
from bench.cpu_budget import ROWS, broker_pid, cpu_budget, messages_by_topic
from bench.learning import Learning
from bench.profiles import PROFILES, shape
from stream.data.producer import produce
from stream.data.synthetic import SyntheticSpec, synthetic_events
from stream.kafka.topic_reader import read_topic
from stream.kafka.topics import create_topics
from stream.local.consumer_groups import wait_until_workers_ready
from stream.local.sandbox import isolated_settings, running_broker, scrape
from stream.local.worker_process import WorkerProcess
from stream.messages.events import RawEvent
from stream.messages.recommendation import RecommendationMessage
from stream.metrics.scrape import Samples, buckets, metric_sum, quantile
from stream.paths import REPO_ROOT
from stream.settings import Settings, load_settings

console = Console(width=200)


@dataclass(frozen=True)
class FreshnessOptions:
    duration: float = 40.0  # seconds of events per rate
    warmup: float = 10.0  # left out of the percentiles
    settle: float = 60.0  # longest wait for the trainer to catch up after producing


@dataclass
class RateResult:
    source: str  # the traffic profile
    target_rate: float
    users: int  # distinct users in what was produced
    users_per_second: float  # distinct users per second of it
    produced: int
    produce_s: float
    sent_rate: float  # what the producer achieved
    measured_events: int  # after the warm-up
    unreflected: int  # measured events no recommendation ever reflected
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float
    sustained_rate: float  # events reflected within 1 s, per second of the run
    caught_up: bool  # the trainer had learned everything within the settle time
    steps: float
    mean_batch_users: float
    untrained_fraction: float  # sequences left out of their own step by the training budget
    trained_share: float  # of the sequences read, learned by the end (in their step or later)
    dropped_sequences: float  # pushed out of a full catch-up queue: never learned
    mean_step_ms: float
    sequencer_peak_rss_mb: float
    trainer_peak_rss_mb: float
    # where the time goes
    sequencer_cpu_s: float  # CPU seconds each process used during the run
    trainer_cpu_s: float
    machine_busy_fraction: float  # of all cores, over produce + settle
    sequencer_latency_p99_s: float | None  # Kafka timestamp -> sequence update handed over
    trainer_since_ingest_p99_s: float | None  # Kafka timestamp -> recommendation
    checkpoints: float = 0.0  # written during the run (each stalls the next step)
    checkpoint_s: float = 0.0  # seconds spent writing them
    cpu_budget: dict[str, Any] = field(default_factory=dict)  # bench.cpu_budget.CpuBudget


SOURCES = (*PROFILES, "synthetic")


def load_events(source: str, count: int) -> list[RawEvent]:
    if source in PROFILES:
        return PROFILES[source].events(count)
    return synthetic_events(SyntheticSpec(users=5_000, items=20_000, events=count))


def freshness(settings: Settings, since_ts: float) -> tuple[list[float], int]:
    """Per-event freshness (s) for events with ts >= since_ts, and how many were never reflected."""
    recs: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for _k, value, _p, _o in read_topic(settings, settings.topics.recommendations):
        m = RecommendationMessage.from_json(value)
        recs[m.user_id].append((m.published_ts, m.event_ts, m.event_id))
    for entries in recs.values():
        entries.sort()
    out, unreflected = [], 0
    for topic in settings.topics.events.values():
        for _k, value, _p, _o in read_topic(settings, topic):
            event = orjson.loads(value)
            if event["ts"] < since_ts:
                continue
            entries = recs.get(event["user_id"], [])
            # first publication at or after the event whose newest event is not older
            start = bisect.bisect_left(entries, (event["ts"], -math.inf, ""))
            key = (event["ts"], event["event_id"])
            hit = next((p for p, ts, eid in entries[start:] if (ts, eid) >= key), None)
            if hit is None:
                unreflected += 1
            else:
                out.append(hit - event["ts"])
    return sorted(out), unreflected


def caught_up(seq: Samples, trainer: Samples, produced: int) -> bool:
    seen = metric_sum(seq, "recstream_sequencer_events_total")
    emitted = metric_sum(seq, "recstream_sequencer_sequences_emitted_total")
    read = metric_sum(trainer, "recstream_trainer_sequence_updates_total")
    learned = metric_sum(trainer, "recstream_trainer_freshness_seconds_count", since="event")
    queued = Learning.from_samples(trainer).queued
    # No step still running, and what was over budget learned since.
    return seen >= produced and read >= emitted and learned >= read and queued == 0


def run_rate(
    base: Settings, rate: float, args: FreshnessOptions, workdir: Path, events: list[RawEvent],
    source: str = "taobao",
) -> RateResult:  # fmt: skip
    prefix = f"fresh{int(rate)}-{int(time.time())}"
    config, settings = isolated_settings(base, workdir, prefix)
    create_topics(settings)
    workers = [WorkerProcess(role, config, workdir / f"{prefix}-{role}.log").start()
               for role in ("sequencer", "trainer")]  # fmt: skip
    seq_port, trainer_port = settings.metrics.sequencer_port, settings.metrics.trainer_port
    try:
        with console.status(f"{rate:g} events/s: starting the workers"):
            wait_until_workers_ready(settings, workers)
        stream = events[: int(rate * args.duration)]
        cpu_before = [cpu_seconds(worker.pid) for worker in workers]
        broker = broker_pid()
        broker_before = cpu_seconds(broker)
        busy_before, total_before = machine_ticks()
        started = time.time()
        with console.status(f"{rate:g} events/s: producing {len(stream):,} events"):
            report = produce(settings, stream, rate=rate)
        settled = False
        with console.status(f"{rate:g} events/s: waiting for the trainer"):
            deadline = time.monotonic() + args.settle
            while time.monotonic() < deadline:
                seq, trainer = scrape(seq_port), scrape(trainer_port)
                if caught_up(seq, trainer, report.sent):
                    settled = True
                    break
                time.sleep(0.5)
        rss = [peak_rss_mb(worker.pid) for worker in workers]
        cpu = [cpu_seconds(w.pid) - before for w, before in zip(workers, cpu_before, strict=True)]
        broker_cpu = cpu_seconds(broker) - broker_before
        busy_after, total_after = machine_ticks()
        trainer, seq = scrape(trainer_port), scrape(seq_port)
    finally:
        for worker in workers:
            worker.stop()
    budget = cpu_budget(
        report.sent, {"sequencer": cpu[0], "trainer": cpu[1], "broker": broker_cpu}, seq,
        trainer, messages_by_topic(settings),
    )  # fmt: skip
    ordered, unreflected = freshness(settings, started + args.warmup)
    measured = len(ordered) + unreflected
    stream_shape = shape(stream, rate)
    late = ordered + [math.inf] * unreflected
    within = sum(1 for f in ordered if f <= 1.0)
    steps = metric_sum(trainer, "recstream_trainer_batch_users_count")  # steps that ranked
    learning = Learning.from_samples(trainer)
    return RateResult(
        source=source,
        target_rate=rate,
        users=stream_shape.users,
        users_per_second=stream_shape.users_per_second,
        produced=report.sent,
        produce_s=report.seconds,
        sent_rate=report.sent / max(report.seconds, 1e-9),
        measured_events=measured,
        unreflected=unreflected,
        p50_s=percentile(late, 0.5),
        p95_s=percentile(late, 0.95),
        p99_s=percentile(late, 0.99),
        max_s=late[-1] if late else float("nan"),
        sustained_rate=within / max(report.seconds - args.warmup, 1e-9),
        caught_up=settled,
        steps=steps,
        mean_batch_users=learning.read / max(steps, 1),
        untrained_fraction=learning.deferred_share,
        trained_share=learning.learned_share,
        dropped_sequences=learning.dropped,
        mean_step_ms=1000
        * metric_sum(trainer, "recstream_trainer_step_seconds_sum", phase="total")
        / max(steps, 1),
        sequencer_peak_rss_mb=rss[0],
        trainer_peak_rss_mb=rss[1],
        sequencer_cpu_s=cpu[0],
        trainer_cpu_s=cpu[1],
        machine_busy_fraction=(busy_after - busy_before) / max(total_after - total_before, 1),
        sequencer_latency_p99_s=quantile(
            0.99, buckets(seq, "recstream_sequencer_processing_latency_seconds")
        ),
        trainer_since_ingest_p99_s=quantile(
            0.99, buckets(trainer, "recstream_trainer_freshness_seconds", since="ingest")
        ),
        checkpoints=metric_sum(trainer, "recstream_trainer_checkpoint_seconds_count"),
        checkpoint_s=metric_sum(trainer, "recstream_trainer_checkpoint_seconds_sum"),
        cpu_budget=asdict(budget),
    )


def plot(by_source: dict[str, list[RateResult]], out: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    for source, results in by_source.items():
        rates = [r.target_rate for r in results]
        for attr, label, style in (("p50_s", "p50", ":"), ("p99_s", "p99", "-")):
            ax.plot(rates, [min(getattr(r, attr), 60) for r in results], marker="o",
                    linestyle=style, label=f"{source} {label}")  # fmt: skip
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="1 s goal")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("events/s produced")
    ax.set_ylabel("event -> recommendation (s, capped at 60)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def run(
    base: Settings, rates: list[float], options: FreshnessOptions, workdir: Path,
    source: str = "taobao",
) -> list[RateResult]:  # fmt: skip
    events = load_events(source, int(max(rates) * options.duration))
    results = []
    for rate in rates:
        results.append(run_rate(base, rate, options, workdir, events, source))
        r = results[-1]
        console.print(f"{source} {rate:g}/s: p50 {r.p50_s:.3f}s p99 {r.p99_s:.3f}s, "
                      f"{r.users:,} users, {r.users_per_second:,.0f} users/s")  # fmt: skip
    return results


def highest_rate_under_1s(results: list[RateResult]) -> float | None:
    ok = [r.target_rate for r in results if r.p99_s < 1.0 and r.caught_up]
    return max(ok) if ok else None


def print_table(results: list[RateResult], title: str) -> None:
    table = Table("events/s", "sent/s", "users", "users/s", "p50", "p95", "p99", "max",
                  "within 1 s /s", "caught up", "users/step", "step ms", "deferred", "trained",
                  "RSS seq/trainer MB", "CPU s seq/trainer", "machine busy", "seq p99",
                  title=title)  # fmt: skip
    for r in results:
        table.add_row(
            f"{r.target_rate:,.0f}", f"{r.sent_rate:,.0f}", f"{r.users:,}",
            f"{r.users_per_second:,.0f}", f"{r.p50_s:.3f}", f"{r.p95_s:.3f}",
            f"{r.p99_s:.3f}", f"{r.max_s:.2f}", f"{r.sustained_rate:,.0f}",
            "yes" if r.caught_up else "NO", f"{r.mean_batch_users:,.0f}",
            f"{r.mean_step_ms:,.0f}", f"{r.untrained_fraction:.0%}", f"{r.trained_share:.0%}",
            f"{r.sequencer_peak_rss_mb:,.0f} / {r.trainer_peak_rss_mb:,.0f}",
            f"{r.sequencer_cpu_s:,.0f} / {r.trainer_cpu_s:,.0f}", f"{r.machine_busy_fraction:.0%}",
            f"{r.sequencer_latency_p99_s or float('nan'):.3f}",
        )  # fmt: skip
    console.print(table)
    print_cpu_budget(results, title)
    best = highest_rate_under_1s(results)
    console.print(f"highest rate with p99 under 1 s: {best:,.0f} events/s" if best
                  else "no rate reached p99 under 1 s")  # fmt: skip


def print_cpu_budget(results: list[RateResult], title: str) -> None:
    """CPU µs per event by stage (rows) at each rate (columns), and messages per event."""
    rates = [r for r in results if r.cpu_budget]
    if not rates:
        return
    table = Table("CPU µs per event", *(f"{r.target_rate:,.0f}/s" for r in rates),
                  title=f"{title}: CPU per event by stage")  # fmt: skip
    for label, key in ROWS:
        table.add_row(label, *(f"{r.cpu_budget[key]:,.0f}" for r in rates))
    table.add_row("ranking per user", *(f"{r.cpu_budget['rank_us_per_user']:,.0f}" for r in rates))
    table.add_row("training per sequence",
                  *(f"{r.cpu_budget['train_us_per_sequence']:,.0f}" for r in rates))  # fmt: skip
    for role in rates[0].cpu_budget["messages_per_event"]:
        per_event = [r.cpu_budget["messages_per_event"][role] for r in rates]
        table.add_row(f"Kafka messages/event: {role}", *(f"{m:.2f}" for m in per_event))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=60.0)
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    parser.add_argument("--source", choices=SOURCES, nargs="+", default=list(PROFILES))
    parser.add_argument("--bootstrap", default=os.environ.get("RECSTREAM_TEST_BOOTSTRAP"))
    parser.add_argument(
        "--broker-warmup", type=float, default=15.0,
        help="seconds of an unrecorded first run at the lowest rate: a fresh broker's JIT "
        "warm-up otherwise lands on the first measured rate",
    )  # fmt: skip
    args = parser.parse_args()
    options = FreshnessOptions(args.duration, args.warmup, args.settle)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_broker(Path(tmp) / "broker", args.bootstrap) as broker,
    ):
        base = load_settings(
            args.config, kafka={"bootstrap_servers": broker.kafka.bootstrap_servers}
        )
        if args.broker_warmup > 0:
            warm_up_broker(base, min(args.rates), args.broker_warmup, Path(tmp), args.source[0])
        by_source = run_sources(base, args.rates, options, Path(tmp), args.source)
    save(by_source, options, args.config.name)


def warm_up_broker(
    base: Settings, rate: float, seconds: float, workdir: Path, source: str
) -> None:  # fmt: skip
    """A short run whose result is thrown away: the broker's CPU per event in the first
    measured rate was up to 3x that of the same rate later (bench/NOTES.md)."""
    options = FreshnessOptions(duration=seconds, warmup=0.0, settle=15.0)
    events = load_events(source, int(rate * seconds))
    with console.status("warming the broker up"):
        run_rate(base, rate, options, workdir, events, source)


def run_sources(
    base: Settings, rates: list[float], options: FreshnessOptions, workdir: Path,
    sources: list[str] | None = None,
) -> dict[str, list[RateResult]]:  # fmt: skip
    """Every rate on every traffic profile (both profiles by default)."""
    return {source: run(base, rates, options, workdir, source)
            for source in sources or list(PROFILES)}  # fmt: skip


def save(
    by_source: dict[str, list[RateResult]], options: FreshnessOptions, config_name: str,
    when: str | None = None,
) -> Path:  # fmt: skip
    """Print a table per profile; write the JSON result and its PNG."""
    for source, results in by_source.items():
        print_table(results, f"freshness, {config_name}, {source}")
    out = write_result("freshness", {
        "config": config_name, "sources": list(by_source), **asdict(options),
        "results": [asdict(r) for results in by_source.values() for r in results],
        "highest_rate_p99_under_1s": {
            source: highest_rate_under_1s(results) for source, results in by_source.items()
        },
    }, when)  # fmt: skip
    plot(by_source, out.with_suffix(".png"), f"freshness vs rate ({config_name})")
    console.print(f"wrote {out} and {out.with_suffix('.png').name}")
    return out


if __name__ == "__main__":
    main()
