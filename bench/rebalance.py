"""Two sequencer workers, the second joining while the first reads a backlog: does the
group finish, and does every event get processed?

Each run uses a fresh consumer group on the same 96k-event backlog (`bench.ingest`'s
`sequencer x2` runner). Per run it reports whether the group read everything, the
partitions a worker had to re-read (`recstream_sequencer_partition_rewinds_total`),
the lag left, and a lower bound on events that were committed but never processed:
total - events read (accepted or dead-lettered), when no lag is left (re-reads only add to the sum,
so a positive value is loss). See bench/NOTES.md, "Two-worker scale-out".

    python -m bench.rebalance --runs 10
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
from bench.ingest import StalledError, measure, produce, start
from stream.kafka.group_lag import GroupLag
from stream.kafka.topics import create_topics
from stream.local.sandbox import isolated_settings, running_broker, scrape
from stream.metrics.scrape import metric_sum
from stream.paths import REPO_ROOT
from stream.settings import Settings, load_settings

console = Console()


@dataclass(frozen=True)
class RebalanceRun:
    run: int
    finished: bool  # read the total before a 90 s pause (re-reads count)
    seconds: float  # until the lag drained (or 150 s more)
    accepted: int  # events read (accepted or dead-lettered), both workers; re-reads twice
    rewinds: int
    lag_left: int
    lost_at_least: int  # total - accepted when lag_left == 0, else unknown (-1)


def group_lag(settings: Settings, group: str) -> int:
    lag = GroupLag(settings)
    try:
        topics = list(settings.topics.events.values())
        return sum(o.lag for o in lag.measure(group, topics).values())
    finally:
        lag.close()


def one_run(
    config: Path, settings: Settings, tag: str, workdir: Path, total: int, run: int
) -> RebalanceRun:
    consumers = start("sequencer x2", config, settings, tag, workdir)
    started, finished = time.monotonic(), True
    try:
        try:
            measure(consumers, total)
        except StalledError:
            finished = False
        # Reading the total is not enough (re-reads count twice): wait for the group's
        # lag to drain, which gives a stuck partition time to be re-read.
        drain_deadline = time.monotonic() + 150
        while group_lag(settings, tag) > 0 and time.monotonic() < drain_deadline:
            time.sleep(5)
        samples = [scrape(port) for port in consumers.ports]
        # Accepted or dead-lettered: every event read, whatever its verdict.
        accepted = int(sum(metric_sum(s, "recstream_sequencer_events_total") for s in samples))
        rewinds = int(sum(metric_sum(s, "recstream_sequencer_partition_rewinds_total")
                          for s in samples))  # fmt: skip
    finally:
        consumers.stop()
    lag_left = group_lag(settings, tag)
    lost = max(0, total - accepted) if lag_left == 0 else -1
    return RebalanceRun(
        run, finished, time.monotonic() - started, accepted, rewinds, lag_left, lost
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--events", type=int, default=96_168)
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    parser.add_argument("--bootstrap", default=os.environ.get("RECSTREAM_TEST_BOOTSTRAP"))
    args = parser.parse_args()
    runs: list[RebalanceRun] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_broker(Path(tmp) / "broker", args.bootstrap) as broker,
    ):
        bootstrap = broker.kafka.bootstrap_servers
        base = load_settings(args.config, kafka={"bootstrap_servers": bootstrap})
        prefix = f"rebalance{int(time.time())}"
        config, settings = isolated_settings(base, Path(tmp), prefix)
        create_topics(settings)
        total = produce(settings, args.events)
        for run in range(args.runs):
            result = one_run(config, settings, f"{prefix}-{run}", Path(tmp), total, run)
            runs.append(result)
            console.print(result)
    title = f"two sequencers, the second joining mid-backlog ({total:,} events)"
    table = Table("run", "finished", "s", "read", "rewinds", "lag left", "lost (at least)",
                  title=title)  # fmt: skip
    for r in runs:
        lost = "?" if r.lost_at_least < 0 else f"{r.lost_at_least:,}"
        table.add_row(str(r.run), "yes" if r.finished else "NO", f"{r.seconds:.0f}",
                      f"{r.accepted:,}", str(r.rewinds), f"{r.lag_left:,}", lost)  # fmt: skip
    console.print(table)
    path = write_result("rebalance", {"events": total, "runs": [asdict(r) for r in runs]})
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
