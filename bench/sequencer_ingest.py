"""Sequencer ingest rate next to an empty Faust agent on the same topics and broker.

    python -m bench.sequencer_ingest [--events N] [--repeats R] [--bootstrap HOST:PORT]

Produces the Taobao 96k sample (re-timed to now) into fresh event topics, then lets
each consumer read the whole backlog from the start, one after the other, and
measures events/s from its first to its last message (start-up excluded). Prints a
table and writes bench/results/sequencer_ingest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from kafka import KafkaProducer
from rich.console import Console
from rich.progress import track
from rich.table import Table

from stream.event_files import read_taobao, shared_data_dir
from stream.kafka_config import kafka_python_options
from stream.settings import Settings
from stream.topics import create_topics
from tests.conftest import REPO_ROOT, free_port_pair, running_broker
from tests.integration.processes import WorkerProcess, isolated_settings, metric_sum, scrape

console = Console()
RESULTS = REPO_ROOT / "bench" / "results"


@dataclass(frozen=True)
class Run:
    runner: str
    repeat: int
    events: int
    seconds: float
    events_per_s: float


def produce(settings: Settings, limit: int) -> int:
    events = read_taobao(shared_data_dir() / "taobao-userbehavior-96k" / "UserBehavior.csv")[:limit]
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


def measure(count: Callable[[], float], total: int, alive: Callable[[], bool]) -> tuple[int, float]:
    """Poll a counter; returns (events after the first poll that saw any, seconds for them)."""
    first_seen: tuple[float, float] | None = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the consumer process exited")
        try:
            value = count()
        except OSError:
            value = 0.0
        now = time.perf_counter()
        if value > 0 and first_seen is None:
            first_seen = (now, value)
        if value >= total and first_seen is not None:
            return int(total - first_seen[1]), now - first_seen[0]
        time.sleep(0.05)
    raise TimeoutError("consumer did not finish")


def run_empty_agent(config: Path, total: int, tag: str, workdir: Path) -> tuple[int, float]:
    port = free_port_pair()
    log = (workdir / f"{tag}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.empty_agent", str(config), tag, str(port)],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        return measure(
            lambda: metric_sum(scrape(port), "bench_empty_agent_events_total"),
            total, lambda: process.poll() is None,
        )  # fmt: skip
    finally:
        process.terminate()
        process.wait(30)


def run_sequencer(settings: Settings, total: int, tag: str, workdir: Path) -> tuple[int, float]:
    data = settings.model_dump(mode="json")
    data["sequencer"]["app_id"] = tag
    data["metrics"]["sequencer_port"] = port = free_port_pair()
    config = workdir / f"{tag}.yaml"
    config.write_text(json.dumps(data))  # JSON is YAML
    worker = WorkerProcess("sequencer", config, workdir / f"{tag}.log").start()
    try:
        return measure(
            lambda: metric_sum(scrape(port), "recstream_sequencer_events_total"),
            total,
            worker.alive,
        )
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bootstrap", default=os.environ.get("RECSTREAM_TEST_BOOTSTRAP"))
    parser.add_argument(
        "--runners", nargs="+", default=["empty faust agent", "sequencer"],
        choices=["empty faust agent", "sequencer"],
    )  # fmt: skip
    args = parser.parse_args()

    runs: list[Run] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_broker(Path(tmp) / "broker", args.bootstrap) as base,
    ):
        workdir = Path(tmp)
        prefix = f"bench{int(time.time())}"
        config, settings = isolated_settings(base, workdir, prefix)
        create_topics(settings)
        total = produce(settings, args.events)
        for repeat in range(args.repeats):
            for runner in args.runners:
                tag = f"{prefix}-{runner.split()[0]}-{repeat}"
                with console.status(f"{runner}, run {repeat + 1}"):
                    if runner == "sequencer":
                        events, seconds = run_sequencer(settings, total, tag, workdir)
                    else:
                        events, seconds = run_empty_agent(config, total, tag, workdir)
                runs.append(Run(runner, repeat, events, seconds, events / seconds))

    best = {r: max(x.events_per_s for x in runs if x.runner == r) for r in {x.runner for x in runs}}
    ratio = best.get("sequencer", 0.0) / best.get("empty faust agent", float("nan"))
    table = Table("runner", "run", "events timed", "seconds", "events/s")
    for run in runs:
        table.add_row(run.runner, str(run.repeat + 1), f"{run.events:,}", f"{run.seconds:.2f}",
                      f"{run.events_per_s:,.0f}")  # fmt: skip
    console.print(table)
    console.print(f"sequencer / empty agent (best of {args.repeats}): [bold]{ratio:.2f}x[/]")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"sequencer_ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({
        "benchmark": "sequencer_ingest",
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "events_produced": total,
        "partitions": settings.topics.partitions,
        "batch_max_events": settings.sequencer.batch_max_events,
        "runs": [asdict(r) for r in runs],
        "best_events_per_s": best,
        "ratio_sequencer_to_empty_agent": ratio,
    }, indent=2))  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
