"""The rig every fault run uses: an isolated config on a broker, real worker processes,
a producer, "drained" from the broker's own offsets, and the final accounting.

Kept apart from the scenarios (bench/faults.py) so that the integration tests and
``make bench-faults`` run the very same code.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stream.data.producer import ProduceReport, produce
from stream.kafka.group_lag import GroupLag
from stream.kafka.topics import create_topics
from stream.local.accounting import Accounting, account_topics, produced_events
from stream.local.sandbox import isolated_settings, scrape, wait_for
from stream.local.worker_process import WorkerProcess
from stream.messages.events import Event, RawEvent
from stream.metrics.scrape import Samples, metric_sum
from stream.network import free_port_pair
from stream.settings import Settings


def many_user_events(users: int, per_user: int, seed: int) -> list[RawEvent]:
    """Users interleaved round-robin (most consecutive events are different users), each
    with ``per_user`` events: fewer than a window holds, so every event stays visible."""
    rng = random.Random(seed)
    return [
        RawEvent(user_id=f"user-{u}", item_id=f"item-{rng.randrange(500)}",
                 action=rng.choice(("view", "view", "view", "click", "purchase")), ts=0.0)
        for _round in range(per_user) for u in range(users)
    ]  # fmt: skip


STARTED: list[FaultRig] = []  # every rig of this process, so a broken run stops its workers


def stop_every_rig() -> None:
    """Stop the workers of every rig (after a scenario that raised half-way)."""
    while STARTED:
        STARTED.pop().stop_all()


@dataclass
class FaultRig:
    """One isolated run: its topics, groups, folders and ports are its own."""

    base: Settings
    workdir: Path
    prefix: str
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)
    produced: list[ProduceReport] = field(default_factory=list)
    sequencer_ports: list[tuple[WorkerProcess, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.base.model_dump(mode="json")
        for section, values in self.overrides.items():
            data[section].update(values)
        base = type(self.base).model_validate(data)
        self.config, self.settings = isolated_settings(base, self.workdir, self.prefix)
        create_topics(self.settings)
        self._seq_count = 0
        STARTED.append(self)

    # -- processes ---------------------------------------------------------------

    def sequencer(self) -> WorkerProcess:
        """Start one more sequencer worker (its own metrics port and local state)."""
        n, self._seq_count = self._seq_count, self._seq_count + 1
        data = yaml.safe_load(self.config.read_text())
        data["metrics"]["sequencer_port"] = free_port_pair()
        config = self.workdir / f"sequencer-{n}.yaml"
        config.write_text(yaml.safe_dump(data))
        worker = WorkerProcess("sequencer", config, self.workdir / f"sequencer-{n}.log",
                               worker_id=str(n))  # fmt: skip
        self.sequencer_ports.append((worker, data["metrics"]["sequencer_port"]))
        self.workers.append(worker.start())
        return worker

    def trainer(self, env: dict[str, str] | None = None, name: str = "trainer") -> WorkerProcess:
        worker = WorkerProcess("trainer", self.config, self.workdir / f"{name}.log", env=env)
        self.workers.append(worker.start())
        return worker

    def trainer_metrics(self) -> Samples:
        return scrape(self.settings.metrics.trainer_port)

    def wait_up(self, port: int, worker: WorkerProcess, timeout_s: float = 90) -> None:
        wait_for(lambda: bool(scrape(port)), timeout_s, f"{worker.role} metrics", worker)

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    # -- traffic -------------------------------------------------------------------

    def produce(self, events: list[RawEvent], rate: float) -> ProduceReport:
        report = produce(self.settings, events, rate=rate)
        self.produced.append(report)
        return report

    def produce_in_background(self, events: list[RawEvent], rate: float) -> threading.Thread:
        thread = threading.Thread(target=self.produce, args=(events, rate), daemon=True)
        thread.start()
        return thread

    def sequencer_metric(self, name: str) -> float:
        """``name`` summed over the live sequencers."""
        total = 0.0
        for worker, port in self.sequencer_ports:
            if worker.alive():
                with contextlib.suppress(OSError):  # not serving yet
                    total += metric_sum(scrape(port), name)
        return total

    def sequencer_events(self) -> float:
        """Events the live sequencers have read (accepted or dead-lettered)."""
        return self.sequencer_metric("recstream_sequencer_events_total")

    # -- the end -------------------------------------------------------------------

    def lag(self) -> tuple[int, int]:
        """(sequencer group lag, trainer group lag) from the broker's committed offsets."""
        s = self.settings
        lag = GroupLag(s)
        try:
            events = lag.measure(s.sequencer.app_id, list(s.topics.events.values()))
            sequences = lag.measure(s.trainer.app_id, [s.topics.sequences])
            return sum(o.lag for o in events.values()), sum(o.lag for o in sequences.values())
        finally:
            lag.close()

    def wait_drained(self, timeout_s: float = 240) -> float:
        """Until both groups have committed everything (twice in a row, 2 s apart)."""
        started = time.monotonic()

        def drained() -> bool:
            if self.lag() != (0, 0):
                return False
            time.sleep(2.0)
            return self.lag() == (0, 0)

        live = [w for w in self.workers if w.alive()]
        wait_for(drained, timeout_s, "both groups to commit everything", live[0] if live else None)
        return time.monotonic() - started

    def produced_events(self) -> list[Event]:
        return produced_events(self.settings)

    def account(self) -> Accounting:
        return account_topics(self.settings, self.produced_events())
