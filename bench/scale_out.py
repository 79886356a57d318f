"""One trainer against a trainer group of two: quality, training speed and freshness.

    python -m bench.scale_out [--events 30000] [--backlog 20000] [--ranks 1 2]
                              [--source taobao sessions] [--config configs/default.yaml]

Two parts, each run for 1 and for N ranks, side by side, on each traffic profile:

- **replay** (no Kafka): the first --events events of the profile, prequential, through
  a group of N gloo ranks (``bench.scale_out_replay``): NDCG@10 and HR@10 of the whole
  group, training samples (trained positions) per second, the share of the learner's
  time spent in collectives, bytes each rank sends per step, and whether the replicas
  ended identical.
- **backlog** (real broker, real workers): --backlog events produced before any worker
  starts, then a sequencer and the trainer (``recstream worker trainer``, or
  ``recstream worker trainers --ranks N`` under torchrun) drain it: seconds to learn
  everything, learned events/s, freshness p50/p99 since ingest, the group's collective
  time per step and its share of the step, bytes per step; then the accounting check.

Each process runs one torch thread (trainer.torch_threads), so on a machine with C
cores N ranks use up to N of them: report speed-ups with the cores. Writes
bench/results/scale-out-<time>.json and a PNG.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import RESULTS, stamp, write_result
from bench.learning import Learning
from bench.profiles import PROFILES
from bench.scale_out_replay import GroupReplay, group_replay
from stream.data.producer import produce
from stream.kafka.topics import create_topics
from stream.local.accounting import account_topics, produced_events
from stream.local.sandbox import isolated_settings, running_broker, scrape, wait_for
from stream.local.worker_process import WorkerProcess
from stream.metrics.scrape import Samples, buckets, metric_sum, quantile
from stream.paths import REPO_ROOT
from stream.settings import Settings, load_settings

console = Console(width=180)


@dataclass(frozen=True)
class BacklogRun:
    ranks: int
    profile: str
    events: int
    startup_s: float  # from starting the workers to every rank's first learned step
    drain_s: float  # from then until everything is learned
    learned_events_per_s: float  # events / drain_s
    freshness_p50_s: float
    freshness_p99_s: float
    collective_s_per_step: float  # mean over ranks and steps
    collective_share: float  # of the step's wall time
    bytes_per_step: float
    group_steps: float
    accounting_ok: bool


def _total(samples: list[Samples], name: str, **labels: str) -> float:
    return sum(metric_sum(s, name, **labels) for s in samples)


def run_backlog(base: Settings, ranks: int, profile: str, count: int, workdir: Path) -> BacklogRun:
    prefix = f"scale-{profile}-{ranks}-{int(time.time())}"
    config, settings = isolated_settings(base, workdir, prefix)
    create_topics(settings)
    with console.status(f"{profile}: producing a backlog of {count:,} events"):
        produce(settings, PROFILES[profile].events(count), rate=1e9)  # as fast as it goes
    produced = produced_events(settings)
    role, extra = ("trainer", ()) if ranks == 1 else ("trainers", ("--ranks", str(ranks)))
    started = time.monotonic()
    workers = [
        WorkerProcess("sequencer", config, workdir / f"{prefix}-sequencer.log").start(),
        WorkerProcess(role, config, workdir / f"{prefix}-{role}.log", extra_args=extra).start(),
    ]
    ports = [settings.metrics.trainer_port + rank for rank in range(ranks)]
    learning_since: list[float] = []
    try:

        def drained() -> bool:
            trainers = [scrape(port) for port in ports]
            learning = [metric_sum(t, "recstream_trainer_steps_total", outcome="learned")
                        for t in trainers]  # fmt: skip
            if not learning_since and all(steps > 0 for steps in learning):
                learning_since.append(time.monotonic())
            sequencer = scrape(settings.metrics.sequencer_port)
            emitted = metric_sum(sequencer, "recstream_sequencer_sequences_emitted_total")
            read = _total(trainers, "recstream_trainer_sequence_updates_total")
            waiting = sum(Learning.from_samples(t).queued for t in trainers)
            pending = _total(trainers, "recstream_trainer_pending_updates")
            return (metric_sum(sequencer, "recstream_sequencer_events_total") == count
                    and read >= emitted > 0 and waiting == 0 and pending == 0)  # fmt: skip

        with console.status(f"{profile}: {ranks} rank(s) draining the backlog"):
            wait_for(drained, 900, "the backlog to drain", workers[1])
        drained_at = time.monotonic()
        trainers = [scrape(port) for port in ports]
    finally:
        for worker in workers:
            worker.stop(60)
    merged: dict[float, float] = {}  # every rank's freshness histogram, added up
    for samples in trainers:
        for bound, cumulative in buckets(samples, "recstream_trainer_freshness_seconds",
                                         since="ingest"):  # fmt: skip
            merged[bound] = merged.get(bound, 0.0) + cumulative
    fresh = sorted(merged.items())
    steps = _total(trainers, "recstream_trainer_group_collective_seconds_count")
    collective = _total(trainers, "recstream_trainer_group_collective_seconds_sum")
    step_wall = _total(trainers, "recstream_trainer_step_seconds_sum", phase="total")
    accounting = account_topics(settings, produced)
    return BacklogRun(
        ranks=ranks, profile=profile, events=count,
        startup_s=learning_since[0] - started, drain_s=drained_at - learning_since[0],
        learned_events_per_s=count / (drained_at - learning_since[0]),
        freshness_p50_s=quantile(0.5, fresh) or float("nan"),
        freshness_p99_s=quantile(0.99, fresh) or float("nan"),
        collective_s_per_step=collective / steps if steps else 0.0,
        collective_share=collective / step_wall if step_wall else 0.0,
        bytes_per_step=(_total(trainers, "recstream_trainer_group_exchanged_bytes_sum") / steps
                        if steps else 0.0),
        group_steps=steps / ranks, accounting_ok=accounting.ok,
    )  # fmt: skip


def print_tables(replays: list[GroupReplay], backlogs: list[BacklogRun]) -> None:
    table = Table("profile", "ranks", "events", "NDCG@10", "vs 1 rank", "HR@10", "wall s",
                  "samples/s", "speed-up", "collective share", "bytes/step", "identical",
                  title="prequential replay, 1 torch thread per rank")  # fmt: skip
    single = {r.profile: r for r in replays if r.ranks == 1}
    for r in replays:
        one = single.get(r.profile)
        table.add_row(
            r.profile, str(r.ranks), f"{r.events:,}", f"{r.ndcg10:.4f}",
            f"{r.ndcg10 / one.ndcg10 - 1:+.1%}" if one else "-", f"{r.hr10:.4f}",
            f"{r.wall_s:.1f}", f"{r.samples_per_s:,.0f}",
            f"{r.samples_per_s / one.samples_per_s:.2f}x" if one else "-",
            f"{r.collective_share:.1%}", f"{r.bytes_per_step / 1e3:,.0f} kB",
            "yes" if r.replicas_identical else "NO",
        )  # fmt: skip
    console.print(table)
    table = Table("profile", "ranks", "backlog", "start-up", "drained in", "events/s",
                  "fresh p50",
                  "fresh p99", "collective/step", "share of step", "bytes/step", "accounting",
                  title="a backlog through the live pipeline")  # fmt: skip
    for b in backlogs:
        table.add_row(
            b.profile, str(b.ranks), f"{b.events:,}", f"{b.startup_s:.1f} s",
            f"{b.drain_s:.1f} s",
            f"{b.learned_events_per_s:,.0f}", f"{b.freshness_p50_s:.1f} s",
            f"{b.freshness_p99_s:.1f} s", f"{b.collective_s_per_step * 1e3:.1f} ms",
            f"{b.collective_share:.1%}", f"{b.bytes_per_step / 1e3:,.0f} kB",
            "ok" if b.accounting_ok else "FAILED",
        )  # fmt: skip
    console.print(table)


def plot(replays: list[GroupReplay], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profiles = sorted({r.profile for r in replays})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric, label in ((axes[0], "ndcg10", "NDCG@10"),
                                (axes[1], "samples_per_s", "training samples/s")):  # fmt: skip
        for offset, ranks in enumerate(sorted({r.ranks for r in replays})):
            by_profile = {r.profile: getattr(r, metric) for r in replays if r.ranks == ranks}
            values = [by_profile.get(p, 0.0) for p in profiles]
            axis.bar([i + offset * 0.4 for i in range(len(profiles))], values, width=0.4,
                     label=f"{ranks} rank(s)")  # fmt: skip
        axis.set_xticks([i + 0.2 for i in range(len(profiles))], profiles)
        axis.set_title(label)
        axis.legend()
    fig.suptitle("one trainer vs a trainer group (prequential replay)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def run(
    config: Path, base: Settings | None, events: int, batch_events: int, backlog: int,
    ranks: list[int], sources: list[str], workdir: Path,
) -> tuple[list[GroupReplay], list[BacklogRun]]:  # fmt: skip
    """The replay for every source and rank count; the backlog too when ``base`` (settings
    of a running broker) is given and ``backlog`` > 0."""
    replays = []
    for profile in sources:
        for count in ranks:
            with console.status(f"{profile}: replay through {count} rank(s)"):
                replays.append(group_replay(count, config, profile, events, batch_events))
            console.print(replays[-1])
    backlogs = []
    if base is not None and backlog:
        for profile in sources:
            for count in ranks:
                backlogs.append(run_backlog(base, count, profile, backlog, workdir))
                console.print(backlogs[-1])
    return replays, backlogs


def save(replays: list[GroupReplay], backlogs: list[BacklogRun], config: Path, when: str) -> Path:
    png = RESULTS / f"scale-out-{when}.png"
    plot(replays, png)
    return write_result("scale-out", {
        "config": config.name, "cores": os.cpu_count(),
        "replay": [asdict(r) for r in replays], "backlog": [asdict(b) for b in backlogs],
        "plot": png.name,
    }, when)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch-events", type=int, default=256)
    parser.add_argument("--backlog", type=int, default=20_000, help="0: skip the live part")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--source", choices=list(PROFILES), nargs="+", default=list(PROFILES))
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    parser.add_argument("--bootstrap", default=os.environ.get("RECSTREAM_TEST_BOOTSTRAP"))
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_broker(Path(tmp) / "broker", args.bootstrap) as broker,
    ):
        base = load_settings(
            args.config, kafka={"bootstrap_servers": broker.kafka.bootstrap_servers}
        )
        replays, backlogs = run(args.config, base, args.events, args.batch_events, args.backlog,
                                args.ranks, args.source, Path(tmp))  # fmt: skip
    print_tables(replays, backlogs)
    out = save(replays, backlogs, args.config, stamp())
    console.print(f"wrote {out} and its PNG")


if __name__ == "__main__":
    main()
