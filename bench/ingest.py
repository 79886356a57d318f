"""Sequencer ingest next to its two references, on the same topics and broker.

    python -m bench.ingest [--events N] [--repeats R] [--quick] [--bootstrap HOST:PORT]
                           [--profile taobao sessions]

For each traffic profile (bench/profiles.py: the Taobao 96k slice, YOOCHOOSE sessions)
produces its events (re-timed to now) into fresh 4-partition event topics once, then
lets each consumer read the whole backlog from the start, one after the other, and
times it from its first to its last message (start-up excluded):

* ``raw aiokafka``: ``getmany`` + JSON decode, the client's ceiling;
* ``empty faust agent``: ``async for event in stream.events()``, the framework's floor;
* ``empty agent on batches``: the same agent on the sequencer's consumer, which hands it
  one message per partition and fetch (stream/kafka/partition_batch.py): the floor of the
  sequencer's own path;
* ``empty faust agent x2``: the per-record agent, the second process joining the group
  2.5 s into the read: the control for the sequencer's stall after a rebalance
  (bench/NOTES.md); its events/s includes that rebalance, so it is no scaling figure;
* ``sequencer``: recstream's worker (validation, window table, dead letters, updates);
* ``sequencer x2``: two workers in one group, to show scaling over partitions;
* ``quixstreams peer``: the sequencer's job on quixstreams (librdkafka + RocksDB), the
  library a user would weigh us against (``bench/quix_peer.py``, its own environment).

Each row has events/s, CPU microseconds per event and peak RSS of the consumer
process(es). Prints a table and writes bench/results/ingest-<time>.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from kafka import KafkaProducer
from rich.console import Console
from rich.progress import track
from rich.table import Table

from bench.common import cpu_seconds, peak_rss_mb, write_result
from bench.profiles import PROFILES
from bench.quix_env import quix_python
from stream.kafka.client_options import kafka_python_options
from stream.kafka.topics import create_topics
from stream.local.sandbox import isolated_settings, running_broker, scrape
from stream.local.worker_process import WorkerProcess
from stream.metrics.scrape import metric_sum
from stream.network import free_port_pair
from stream.paths import REPO_ROOT
from stream.settings import Settings, load_settings

console = Console(width=200)
RUNNERS = ("raw aiokafka", "empty faust agent", "empty agent on batches", "empty faust agent x2",
           "sequencer", "sequencer x2", "quixstreams peer")  # fmt: skip
COUNTERS = {
    "raw aiokafka": "bench_raw_consumer_events_total",
    "empty faust agent": "bench_empty_agent_events_total",
    "empty agent on batches": "bench_empty_agent_events_total",
    "empty faust agent x2": "bench_empty_agent_events_total",
}


@dataclass(frozen=True)
class IngestRun:
    runner: str
    repeat: int
    events: int
    seconds: float
    events_per_s: float
    cpu_us_per_event: float  # all consumer processes together
    peak_rss_mb: float  # the largest consumer process
    stalled_at: int | None = None  # events read when progress stopped (see bench/NOTES.md)
    profile: str = "taobao"  # the traffic profile read (bench/profiles.py)


@dataclass
class Consumers:
    """The processes of one runner and how to read their progress."""

    processes: list[subprocess.Popen[bytes] | WorkerProcess]
    ports: list[int]
    counter: str
    logs: list[Path]
    # Each scrape renders every metric of the process: the sequencer's registry is large,
    # so poll it gently; a reference exposes one counter and reads a backlog in ~1 s.
    poll_s: float = 0.25
    self_timed: bool = False  # the process reports its own first/last batch times

    def pids(self) -> list[int | None]:
        return [p.pid for p in self.processes]

    def alive(self) -> bool:
        return all(
            p.alive() if isinstance(p, WorkerProcess) else p.poll() is None for p in self.processes
        )

    def counts(self) -> list[float]:
        out = []
        for port in self.ports:
            try:
                out.append(metric_sum(scrape(port), self.counter))
            except OSError:  # not serving yet
                out.append(0.0)
        return out

    def stop(self) -> None:
        for p in self.processes:
            if isinstance(p, WorkerProcess):
                p.stop()
            else:
                p.terminate()
                p.wait(30)


def produce(settings: Settings, limit: int, profile: str = "taobao") -> int:
    events = PROFILES[profile].events(limit)
    shift = time.time() - 60 - max(e["ts"] for e in events)
    producer = KafkaProducer(
        **kafka_python_options(settings.kafka), linger_ms=20, batch_size=262_144
    )
    for e in track(events, description="producing", console=console):
        payload = {"user_id": e["user_id"], "item_id": e["item_id"], "ts": e["ts"] + shift}
        producer.send(settings.topics.events[e["action"]], key=e["user_id"].encode(),
                      value=orjson.dumps(payload))  # fmt: skip
    producer.flush()
    producer.close()
    return len(events)


def start(runner: str, config: Path, settings: Settings, tag: str, workdir: Path) -> Consumers:
    if runner == "quixstreams peer":
        port = free_port_pair()
        command = [str(quix_python()), str(REPO_ROOT / "bench" / "quix_peer.py"),
                   settings.kafka.bootstrap_servers, ",".join(settings.topics.events.values()),
                   f"{tag}.windows", tag, str(port), str(workdir / tag)]  # fmt: skip
        log_path = workdir / f"{tag}.log"
        log = log_path.open("wb")
        peer = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        return Consumers([peer], [port], "bench_quix_peer_events_total", [log_path], poll_s=0.05)
    if runner in COUNTERS:
        module = "bench.raw_consumer" if runner == "raw aiokafka" else "bench.empty_agent"
        ports = [free_port_pair() for _ in range(2 if runner.endswith("x2") else 1)]
        processes: list[subprocess.Popen[bytes] | WorkerProcess] = []
        logs = [workdir / f"{tag}-{index}.log" for index in range(len(ports))]
        for index, port in enumerate(ports):
            if index:
                time.sleep(2.5)  # joins while the first reads: the rebalance of a scale-out
            log = logs[index].open("wb")
            data_dir = [str(workdir / f"{tag}-{index}")] if module == "bench.empty_agent" else []
            batched = ["batched"] if runner == "empty agent on batches" else []
            processes.append(subprocess.Popen(
                [sys.executable, "-m", module, str(config), tag, str(port), *data_dir, *batched],
                cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        return Consumers(processes, ports, COUNTERS[runner], logs, poll_s=0.02,
                         self_timed=runner == "raw aiokafka")  # fmt: skip
    workers = 2 if runner == "sequencer x2" else 1
    ports = [free_port_pair() for _ in range(workers)]
    processes = []
    logs = [workdir / f"{tag}-{worker}.log" for worker in range(workers)]
    for worker, port in enumerate(ports):
        env = {
            "RECSTREAM_SEQUENCER__APP_ID": tag,
            "RECSTREAM_METRICS__SEQUENCER_PORT": str(port),
        }
        processes.append(WorkerProcess("sequencer", config, logs[worker], str(worker), env).start())
    return Consumers(processes, ports, "recstream_sequencer_events_total", logs)


class StalledError(Exception):
    def __init__(self, read: float, total: int) -> None:
        super().__init__(f"no progress for 90 s at {read:,.0f} of {total:,} events")
        self.read = read


def measure(consumers: Consumers, total: int) -> tuple[int, float, float, float]:
    """(events after the first poll that saw any, seconds, CPU s, peak RSS MB)."""
    first: tuple[float, float, float] | None = None
    last_change, last_value = time.monotonic(), -1.0
    while time.monotonic() - last_change < 90:
        if not consumers.alive():
            tails = "\n".join(log.read_text(errors="replace")[-12_000:] for log in consumers.logs)
            raise RuntimeError(f"a consumer process exited; its log ends:\n{tails}")
        counts = consumers.counts()
        value, now = sum(counts), time.perf_counter()
        if value != last_value:
            last_change, last_value = time.monotonic(), value
        # Timing starts once every process reads: two workers that join one group
        # rebalance first, and that start-up is not ingest.
        if min(counts) > 0 and first is None:
            first = (now, value, sum(cpu_seconds(p) for p in consumers.pids()))
        if value >= total and first is not None:
            cpu = sum(cpu_seconds(p) for p in consumers.pids()) - first[2]
            rss = max(peak_rss_mb(p) for p in consumers.pids())
            if consumers.self_timed:
                # All events, from its first batch to its last: CPU over the same span
                # is not known, so it is the whole process's (an upper bound).
                samples = scrape(consumers.ports[0])
                seconds = metric_sum(samples, "bench_raw_consumer_last_batch_seconds") - (
                    metric_sum(samples, "bench_raw_consumer_first_batch_seconds")
                )
                cpu = sum(cpu_seconds(p) for p in consumers.pids())
                return total, seconds, cpu, rss
            return int(total - first[1]), now - first[0], cpu, rss
        time.sleep(consumers.poll_s)
    raise StalledError(last_value, total)


def run(
    base: Settings, workdir: Path, events: int, repeats: int, runners: tuple[str, ...] = RUNNERS,
    profile: str = "taobao",
) -> tuple[list[IngestRun], Settings]:  # fmt: skip
    prefix = f"ingest{profile}{int(time.time())}"
    config, settings = isolated_settings(base, workdir, prefix)
    create_topics(settings)
    total = produce(settings, events, profile)
    runs: list[IngestRun] = []
    for repeat in range(repeats):
        for runner in runners:
            tag = f"{prefix}-{runner.replace(' ', '').replace('+', '-')}-{repeat}"
            consumers = start(runner, config, settings, tag, workdir)
            try:
                with console.status(f"{profile}: {runner}, run {repeat + 1}"):
                    timed, seconds, cpu, rss = measure(consumers, total)
                rate = timed / seconds if seconds > 0 else float("nan")  # one batch: untimed
                runs.append(IngestRun(runner, repeat, timed, seconds, rate,
                                      1e6 * cpu / max(timed, 1), rss, profile=profile))  # fmt: skip
            except StalledError as stall:
                # Kept as a result, not hidden: a group that stops reading after a
                # rebalance is what an operator would see as ever-growing lag.
                console.print(f"[red]{runner}, run {repeat + 1}: {stall}[/]")
                nan = float("nan")
                runs.append(IngestRun(runner, repeat, 0, nan, nan, nan, nan, int(stall.read),
                                      profile))  # fmt: skip
            finally:
                consumers.stop()
    return runs, settings


def profiles_of(runs: list[IngestRun]) -> list[str]:
    return list(dict.fromkeys(r.profile for r in runs))


def best(runs: list[IngestRun], profile: str | None = None) -> dict[str, IngestRun]:
    """The fastest finished run of each runner (on ``profile``; default: the first)."""
    profile = profile or next(iter(profiles_of(runs)), None)
    out: dict[str, IngestRun] = {}
    for r in runs:
        if r.stalled_at is not None or r.profile != profile:
            continue
        if r.runner not in out or r.events_per_s > out[r.runner].events_per_s:
            out[r.runner] = r
    return out


def print_table(runs: list[IngestRun]) -> None:
    for profile in profiles_of(runs):
        _print_profile(runs, profile)


def _print_profile(runs: list[IngestRun], profile: str) -> None:
    top = best(runs, profile)
    sequencer = top.get("sequencer")
    title = f"ingest, {profile}: one backlog, read from the start"
    table = Table("runner", "events/s (best)", "runs", "CPU µs/event", "peak RSS MB",
                  "sequencer / this", title=title)  # fmt: skip
    for runner, r in top.items():
        every = ", ".join(
            f"{x.events_per_s:,.0f}" if x.stalled_at is None else f"stalled at {x.stalled_at:,}"
            for x in runs
            if x.runner == runner and x.profile == profile
        )
        ratio = f"{sequencer.events_per_s / r.events_per_s:.2f}x" if sequencer else "-"
        table.add_row(runner, f"{r.events_per_s:,.0f}", every, f"{r.cpu_us_per_event:,.0f}",
                      f"{r.peak_rss_mb:,.0f}", ratio)  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=96_168)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="30,000 events, one repeat")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "default.yaml")
    parser.add_argument("--bootstrap", default=os.environ.get("RECSTREAM_TEST_BOOTSTRAP"))
    parser.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    parser.add_argument("--profile", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    args = parser.parse_args()
    events, repeats = (30_000, 1) if args.quick else (args.events, args.repeats)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_broker(Path(tmp) / "broker", args.bootstrap) as broker,
    ):
        base = load_settings(
            args.config, kafka={"bootstrap_servers": broker.kafka.bootstrap_servers}
        )
        runs: list[IngestRun] = []
        for profile in args.profile:
            of_profile, settings = run(
                base, Path(tmp), events, repeats, tuple(args.runners), profile
            )
            runs += of_profile
    print_table(runs)
    out = write_result("ingest", {
        "events": events, "partitions": settings.topics.partitions,
        "batch_max_events": settings.sequencer.batch_max_events,
        "runs": [asdict(r) for r in runs],
        "best_events_per_s": {
            profile: {k: v.events_per_s for k, v in best(runs, profile).items()}
            for profile in profiles_of(runs)
        },
    })  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
