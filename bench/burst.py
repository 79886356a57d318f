"""A burst above what the trainer can learn, then calm: is anything dropped from learning?

    python -m bench.burst [--burst 1000] [--calm 250] [--seconds 60] [--settle 180]
                          [--source taobao sessions] [--config configs/default.yaml]

For each traffic profile: a real sequencer and trainer on fresh topics, events at
--burst events/s for --seconds, then at --calm events/s for --seconds, then a wait of
at most --settle seconds for the catch-up queue to empty. Reports, from the trainer's
metrics, the sequences read, deferred by the budget in their own step, caught up
later, dropped for good (pushed out of a full catch-up queue) and still queued at the
end, and the learned share. Writes bench/results/burst-<time>.json.
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

from bench.common import write_result
from bench.learning import Learning
from bench.profiles import PROFILES
from stream.data.producer import produce
from stream.kafka.topics import create_topics
from stream.local.consumer_groups import wait_until_workers_ready
from stream.local.sandbox import isolated_settings, running_broker, scrape
from stream.local.worker_process import WorkerProcess
from stream.metrics.scrape import metric_sum
from stream.paths import REPO_ROOT
from stream.settings import Settings, load_settings

console = Console(width=160)


@dataclass
class BurstResult:
    source: str
    burst_rate: float
    calm_rate: float
    produced: int
    read: float  # users in the trainer's steps (bench/learning.py)
    deferred: float  # left out of their own step by the budget
    caught_up: float  # of those, learned by a later step
    dropped: float  # pushed out of a full catch-up queue: never learned
    queued_at_end: float
    learned_share: float  # (read - deferred + caught up) / read; merged ones count each
    drained_s: float | None  # seconds after the calm phase until the queue was empty


def run_burst(
    base: Settings, source: str, burst: float, calm: float, seconds: float, settle: float,
    workdir: Path,
) -> BurstResult:  # fmt: skip
    prefix = f"burst-{source}-{int(time.time())}"
    config, settings = isolated_settings(base, workdir, prefix)
    create_topics(settings)
    events = PROFILES[source].events(int((burst + calm) * seconds))
    split = int(burst * seconds)
    workers = [WorkerProcess(role, config, workdir / f"{prefix}-{role}.log").start()
               for role in ("sequencer", "trainer")]  # fmt: skip
    port = settings.metrics.trainer_port
    try:
        wait_until_workers_ready(settings, workers)
        with console.status(f"{source}: {burst:g} events/s for {seconds:g} s"):
            sent = produce(settings, events[:split], rate=burst).sent
        with console.status(f"{source}: {calm:g} events/s for {seconds:g} s"):
            sent += produce(settings, events[split:], rate=calm).sent
        calm_ended = time.monotonic()
        drained_s = None
        with console.status(f"{source}: waiting for the catch-up queue"):
            while time.monotonic() - calm_ended < settle:
                trainer = scrape(port)
                read = metric_sum(trainer, "recstream_trainer_sequence_updates_total")
                emitted = metric_sum(scrape(settings.metrics.sequencer_port),
                                     "recstream_sequencer_sequences_emitted_total")  # fmt: skip
                if Learning.from_samples(trainer).queued == 0 and read >= emitted > 0:
                    drained_s = time.monotonic() - calm_ended
                    break
                time.sleep(1.0)
        learning = Learning.from_samples(scrape(port))
    finally:
        for worker in workers:
            worker.stop()
    return BurstResult(
        source=source, burst_rate=burst, calm_rate=calm, produced=sent, read=learning.read,
        deferred=learning.deferred, caught_up=learning.caught_up, dropped=learning.dropped,
        queued_at_end=learning.queued, learned_share=learning.learned_share,
        drained_s=drained_s,
    )  # fmt: skip


def print_table(results: list[BurstResult]) -> None:
    table = Table("profile", "burst, calm /s", "produced", "read", "deferred", "caught up",
                  "dropped", "queued at end", "learned", "queue empty after",
                  title="a burst, then calm: what the trainer learned")  # fmt: skip
    for r in results:
        table.add_row(
            r.source, f"{r.burst_rate:,.0f}, {r.calm_rate:,.0f}", f"{r.produced:,}",
            f"{r.read:,.0f}", f"{r.deferred:,.0f}", f"{r.caught_up:,.0f}", f"{r.dropped:,.0f}",
            f"{r.queued_at_end:,.0f}", f"{r.learned_share:.0%}",
            "not within the wait" if r.drained_s is None else f"{r.drained_s:.0f} s",
        )  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--burst", type=float, default=1000.0)
    parser.add_argument("--calm", type=float, default=250.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=180.0)
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
        results = [run_burst(base, source, args.burst, args.calm, args.seconds, args.settle,
                             Path(tmp)) for source in args.source]  # fmt: skip
    print_table(results)
    out = write_result("burst", {"config": args.config.name, "seconds": args.seconds,
                                 "results": [asdict(r) for r in results]})  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
