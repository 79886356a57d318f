"""``recstream demo``: the whole pipeline on one machine, watched live.

Starts what is missing (broker, topics), a sequencer and a trainer as real worker
processes, replays a data set into the event topics in a background thread, and
refreshes a dashboard from the workers' /metrics once a second. Everything it
started is stopped on the way out, Ctrl-C included.
"""

from __future__ import annotations

import json
import shutil
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kafka.errors import KafkaError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from stream.data.event_files import read_taobao, shared_data_dir
from stream.data.producer import ProduceReport, produce
from stream.data.synthetic import SyntheticSpec, synthetic_events
from stream.demo.dashboard import render
from stream.demo.recommendation_tail import RecommendationTail
from stream.demo.snapshot import Snapshot, take_snapshot
from stream.kafka.client_options import security_options
from stream.kafka.topics import create_topics, delete_topics_with_prefix
from stream.local.broker import LocalBroker, broker_answers
from stream.local.consumer_groups import wait_until_workers_ready
from stream.local.sandbox import isolated
from stream.local.worker_process import WorkerProcess
from stream.messages.events import RawEvent
from stream.metrics.percentiles import nearest_rank
from stream.metrics.scrape import Samples, scrape
from stream.network import free_port, port_is_free
from stream.settings import Settings

TAOBAO = Path("taobao-userbehavior-96k") / "UserBehavior.csv"


def namespaced(
    settings: Settings, namespace: str, state_dir: Path
) -> tuple[Settings, dict[str, str]]:
    """Settings for topics, groups and state of one run (:func:`isolated`), and the
    workers' environment that gives them the same."""
    run = isolated(settings, namespace, state_dir)
    env = {
        "RECSTREAM_CHECKPOINTS__DIR": str(run.checkpoints.dir),
        "RECSTREAM_TOPICS__EVENTS": json.dumps(run.topics.events),
        "RECSTREAM_TOPICS__DEADLETTER": run.topics.deadletter,
        "RECSTREAM_TOPICS__SEQUENCES": run.topics.sequences,
        "RECSTREAM_TOPICS__RECOMMENDATIONS": run.topics.recommendations,
        "RECSTREAM_TOPICS__CATALOG": run.topics.catalog,
        "RECSTREAM_SEQUENCER__APP_ID": run.sequencer.app_id,
        "RECSTREAM_SEQUENCER__DATA_DIR": str(run.sequencer.data_dir),
        "RECSTREAM_TRAINER__APP_ID": run.trainer.app_id,
        "RECSTREAM_TRAINER__DATA_DIR": str(run.trainer.data_dir),
    }
    return run, env


@dataclass(frozen=True)
class DemoOptions:
    rate: float = 300.0  # events/s
    duration_s: float = 120.0  # of producing; the run ends a little after
    synthetic: bool = False
    keep_broker: bool = False
    keep_data: bool = False  # the run's topics and worker state
    out_dir: Path = Path(".recstream/demo")
    settle_s: float = 30.0  # after the last event, wait this long at most for the trainer


def demo_events(options: DemoOptions) -> tuple[str, list[RawEvent]]:
    count = max(1, round(options.rate * options.duration_s))
    taobao = shared_data_dir() / TAOBAO
    if taobao.exists() and not options.synthetic:
        return f"Taobao user behaviour ({taobao.parent.name})", read_taobao(taobao)[:count]
    spec = SyntheticSpec(users=2_000, items=5_000, events=count)
    return "a synthetic stream (drifting interests, fading items, a funnel)", synthetic_events(spec)


class DemoRun:
    def __init__(
        self, settings: Settings, config: Path | None, options: DemoOptions, console: Console
    ) -> None:
        self.namespace = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
        self.state_dir = options.out_dir / "state" / self.namespace
        self.settings, self.worker_env = namespaced(settings, self.namespace, self.state_dir)
        self.config, self.options, self.console = config, options, console
        self.snapshots: list[Snapshot] = []
        self.produced = 0
        self.report: ProduceReport | None = None
        self.stop_producing = threading.Event()
        self.interrupted = False
        self.ports: dict[str, int] = {}

    # -- set-up ----------------------------------------------------------------

    def _broker(self) -> LocalBroker | None:
        """Start the local broker when the settings point at it and none answers."""
        broker = LocalBroker.from_settings(self.settings)
        if self.settings.kafka.bootstrap_servers != broker.bootstrap:
            self.console.print(
                f"using the configured cluster {self.settings.kafka.bootstrap_servers}"
            )
            return None
        if broker_answers(broker.bootstrap, options=security_options(self.settings.kafka)):
            self.console.print(f"using the Kafka broker that already answers on {broker.bootstrap}")
            return None
        with self.console.status(f"starting Kafka {broker.version} on {broker.bootstrap} …"):
            started = broker.start()
        self.console.print(f"broker started on {broker.bootstrap}")
        return broker if started else None

    def _ports(self) -> dict[str, str]:
        """Metrics ports for the workers: the configured ones, or free ones when busy."""
        metrics = self.settings.metrics
        env = dict(self.worker_env)
        for role, port in (
            ("sequencer", metrics.sequencer_port),
            ("trainer", metrics.trainer_port),
        ):
            if port == 0 or not port_is_free(metrics.host, port):
                port = free_port()
                env[f"RECSTREAM_METRICS__{role.upper()}_PORT"] = str(port)
            self.ports[role] = port
        return env

    def _workers(self, env: dict[str, str]) -> list[WorkerProcess]:
        logs = self.options.out_dir / "logs"
        config = self.config or Path("configs/default.yaml")
        return [
            WorkerProcess(
                role, config, logs / f"{self.namespace}-{role}.log", worker_id="demo", env=env
            ).start()
            for role in ("sequencer", "trainer")
        ]

    # -- the run ---------------------------------------------------------------

    def run(self) -> int:
        """Returns the process exit code."""
        broker = self._broker()
        workers: list[WorkerProcess] = []
        tail: RecommendationTail | None = None
        source, events = demo_events(self.options)
        try:
            created, _present = create_topics(self.settings)
            if created:
                self.console.print(f"created topics: {', '.join(created)}")
            workers = self._workers(self._ports())
            with self.console.status("starting a sequencer and a trainer (Faust workers) …"):
                wait_until_workers_ready(self.settings, workers)
            tail = RecommendationTail(self.settings).start()
            self.console.print(
                f"replaying {len(events):,} events from {source} at {self.options.rate:g} events/s"
            )
            producer = threading.Thread(target=self._produce, args=(events,), daemon=True)
            producer.start()
            self._watch(source, len(events), producer, tail, workers)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self.stop_producing.set()
            if tail is not None:
                tail.stop()
            with self.console.status("stopping the workers …"):
                for worker in workers:
                    worker.stop()
            self._clean_up()
            if broker is not None and not self.options.keep_broker:
                with self.console.status("stopping the broker …"):
                    broker.stop()
                self.console.print("broker stopped")
        self._summary(source, tail, workers)
        return 130 if self.interrupted else 0

    def _clean_up(self) -> None:
        if self.options.keep_data:
            self.console.print(f"kept the run's topics ({self.namespace}.*) and {self.state_dir}")
            return
        try:
            delete_topics_with_prefix(self.settings, self.namespace)
        except KafkaError as exc:
            self.console.print(f"could not delete the topics {self.namespace}.*: {exc}")
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _produce(self, events: list[RawEvent]) -> None:
        def progress(sent: int) -> None:
            self.produced = sent

        self.report = produce(self.settings, events, rate=self.options.rate, progress=progress,
                              should_stop=self.stop_producing.is_set)  # fmt: skip

    def _scrape(self) -> tuple[Samples, Samples] | None:
        host = self.settings.metrics.host
        try:
            return (
                scrape(f"http://{host}:{self.ports['sequencer']}/metrics"),
                scrape(f"http://{host}:{self.ports['trainer']}/metrics"),
            )
        except OSError:
            return None

    def _watch(
        self, title: str, total: int, producer: threading.Thread, tail: RecommendationTail,
        workers: list[WorkerProcess],
    ) -> None:  # fmt: skip
        started = time.monotonic()
        previous_trainer: Samples | None = None
        snap: Snapshot | None = None
        settle_deadline: float | None = None
        with Live(
            render(title, None, total, []), console=self.console, refresh_per_second=2
        ) as live:
            while True:
                time.sleep(1.0)
                for worker in workers:
                    if not worker.alive():
                        raise RuntimeError(f"the {worker.role} stopped:\n{worker.log_tail()}")
                scraped = self._scrape()
                if scraped is None:
                    continue
                sequencer, trainer = scraped
                snap = take_snapshot(time.monotonic() - started, self.produced, sequencer,
                                     trainer, snap, previous_trainer)  # fmt: skip
                previous_trainer = trainer
                self.snapshots.append(snap)
                live.update(render(title, snap, total, tail.snapshot()))
                if producer.is_alive():
                    continue
                settle_deadline = settle_deadline or time.monotonic() + self.options.settle_s
                caught_up = (
                    snap.accepted + snap.dead_letters >= self.produced
                    and snap.updates_read >= snap.sequences
                    and snap.updates_learned >= snap.updates_read  # no step still running
                )
                if caught_up or time.monotonic() > settle_deadline:
                    return

    # -- the end -----------------------------------------------------------------

    def _summary(
        self, source: str, tail: RecommendationTail | None, workers: list[WorkerProcess]
    ) -> None:
        out = self.options.out_dir
        last = self.snapshots[-1] if self.snapshots else None
        table = Table(
            "", "", title="recstream demo" + (" (stopped early)" if self.interrupted else "")
        )
        table.add_row("events", f"{self.produced:,} produced from {source}")
        if last is not None:
            table.add_row("sequencer", f"{last.accepted:,.0f} accepted, {last.dead_letters:,.0f} "
                          f"dead-lettered, {last.sequences:,.0f} sequence updates")  # fmt: skip
            table.add_row("trainer", f"{last.steps:,.0f} steps (model v{last.model_version:,.0f}),"
                          f" {last.vocabulary:,.0f} items, {last.untrained:,.0f} sequences over "
                          "the training budget")  # fmt: skip
            table.add_row("online quality", f"HR@10 {last.hr10:.3f}, NDCG@10 {last.ndcg10:.3f} "
                          "(recent window, ranked before learning)")  # fmt: skip
        summary: dict[str, object] = {"source": source, "produced": self.produced,
                                      "interrupted": self.interrupted}  # fmt: skip
        if tail is not None and tail.freshness:
            ordered = sorted(tail.freshness)
            p = {q: nearest_rank(ordered, q) for q in (0.5, 0.95, 0.99)}
            table.add_row(
                "freshness",
                f"{tail.count:,} recommendations; event -> recommendation "
                f"p50 {1000 * p[0.5]:,.0f} ms, p95 {1000 * p[0.95]:,.0f} ms, "
                f"p99 {1000 * p[0.99]:,.0f} ms (mean {1000 * statistics.fmean(ordered):,.0f} ms)",
            )
            summary["freshness_s"] = {f"p{int(q * 100)}": v for q, v in p.items()}
            summary["recommendations"] = tail.count
        if self.snapshots:
            plot = out / "demo.png"
            from stream.demo.plot import plot_run  # matplotlib: only when there is a plot

            plot_run(self.snapshots, plot, f"recstream demo: {source}")
            table.add_row("plot", str(plot))
            summary["last"] = {k: v for k, v in asdict(self.snapshots[-1]).items()
                               if k != "freshness_buckets"}  # fmt: skip
        table.add_row("logs", ", ".join(str(w.log_path) for w in workers) or "-")
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        self.console.print(table)
