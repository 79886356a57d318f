"""Two trainer ranks (gloo, CPU) under torchrun, one model, one consumer group, a real
broker: the replicas stay identical, each partition is read by one rank at a time, and
every user's newest event reaches a recommendation, also after one rank is SIGKILLed
mid-stream and the launcher restarts the group from its checkpoint."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from model.checkpoints.store import CheckpointStore
from stream.data.producer import produce
from stream.kafka.topics import create_topics
from stream.local.accounting import account_topics, produced_events
from stream.messages.events import Event, RawEvent
from stream.metrics.scrape import Samples
from stream.settings import Settings
from tests.integration.processes import (
    WorkerProcess,
    isolated_settings,
    metric_sum,
    scrape,
    wait_for,
)

pytestmark = pytest.mark.integration

RANKS, PARTITIONS, USERS = 2, 4, 260


def _events(count: int, seed: int) -> list[RawEvent]:
    rng = random.Random(seed)
    users = [f"user-{u}" for u in range(USERS)]
    rng.shuffle(users)
    # Every user at least once, then a random mix.
    chosen = users + [rng.choice(users) for _ in range(count - USERS)]
    return [
        RawEvent(user_id=user, item_id=f"item-{rng.randrange(300)}",
                 action=rng.choice(["view", "view", "click", "purchase"]), ts=float(i))
        for i, user in enumerate(chosen)
    ]  # fmt: skip


def _group_settings(base: Settings, tmp_path: Path, prefix: str) -> tuple[Path, Settings]:
    changed = base.model_copy(update={
        "topics": base.topics.model_copy(update={"partitions": PARTITIONS}),
        "checkpoints": base.checkpoints.model_copy(update={"every_steps": 10, "every_s": 1.0,
                                                           "full_every": 3}),
        "distributed": base.distributed.model_copy(update={
            "step_every_ms": 100, "fingerprint_every_steps": 1, "collective_timeout_s": 60.0}),
    })  # fmt: skip
    return isolated_settings(changed, tmp_path, prefix)


def _rank_pids(launcher: WorkerProcess) -> dict[int, int]:
    """RANK -> pid of the launcher's trainer processes (read from /proc)."""
    ranks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent != launcher.pid:
            continue
        for variable in environ:
            if variable.startswith(b"RANK="):
                ranks[int(variable[5:])] = int(entry.name)
    return ranks


class OwnershipWatch:
    """Samples every rank's partition_owned gauges until stopped: a partition owned by
    two ranks in one sample is an overlap."""

    def __init__(self, ports: list[int]) -> None:
        self.ports, self.samples = ports, 0
        self.overlaps: list[str] = []
        self.seen: set[tuple[int, int]] = set()  # (rank, partition) ever owned
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _owned(self, samples: Samples) -> dict[int, int]:
        out = {}
        for (name, labels), value in samples.items():
            if name == "recstream_trainer_group_partition_owned" and value == 1:
                tags = dict(labels)
                out[int(tags["partition"])] = int(tags["rank"])
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            owners: dict[int, list[int]] = {}
            try:
                for port in self.ports:
                    for partition, rank in self._owned(scrape(port)).items():
                        owners.setdefault(partition, []).append(rank)
                        self.seen.add((rank, partition))
            except OSError:
                pass  # a rank restarting
            else:
                self.samples += 1
                self.overlaps += [f"{p}: ranks {r}" for p, r in owners.items() if len(r) > 1]
            self._stop.wait(0.3)

    def __enter__(self) -> OwnershipWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def _pipeline(config: Path, tmp_path: Path) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:
    sequencer = WorkerProcess("sequencer", config, tmp_path / "sequencer.log").start()
    group = WorkerProcess("trainers", config, tmp_path / "group.log",
                          extra_args=("--ranks", str(RANKS))).start()  # fmt: skip
    try:
        yield sequencer, group
    finally:
        group.stop(60)
        if group.pid is not None:
            with contextlib.suppress(ProcessLookupError):  # no rank outlives the test
                os.killpg(group.pid, signal.SIGKILL)
        sequencer.stop()


def _all_assigned(ports: list[int]) -> bool:
    owned = sum(metric_sum(scrape(port), "recstream_trainer_group_partition_owned")
                for port in ports)  # fmt: skip
    return owned == PARTITIONS and all(
        metric_sum(scrape(port), "recstream_trainer_group_partition_owned") > 0 for port in ports
    )


def _caught_up(settings: Settings, ports: list[int], produced: list[Event]) -> bool:
    accounting = account_topics(settings, produced)
    busy = sum(metric_sum(scrape(port), "recstream_trainer_pending_updates") for port in ports)
    return accounting.ok and busy == 0


def _produced(settings: Settings, events: list[RawEvent], rate: float) -> list[Event]:
    """Send ``events`` at ``rate``; what the event topics then hold (with their ids)."""
    produce(settings, events, rate=rate)
    return produced_events(settings)


def _fingerprints(ports: list[int]) -> list[float]:
    return [metric_sum(scrape(port), "recstream_trainer_replica_fingerprint") for port in ports]


def test_two_ranks_learn_one_model_and_every_user_is_served(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    config, settings = _group_settings(kafka_settings, tmp_path, "group")
    create_topics(settings)
    ports = [settings.metrics.trainer_port + rank for rank in range(RANKS)]
    events = _events(1_500, seed=5)
    with _pipeline(config, tmp_path) as (_sequencer, group), OwnershipWatch(ports) as watch:
        wait_for(lambda: _all_assigned(ports), 120, "both ranks to own partitions", group)
        produced = _produced(settings, events, rate=300.0)
        wait_for(lambda: _caught_up(settings, ports, produced), 120, "the group to catch up",
                 group)  # fmt: skip
        time.sleep(1.0)  # a few idle group steps: the fingerprints are of the same step
        prints = _fingerprints(ports)
        samples = [scrape(port) for port in ports]
    accounting = account_topics(settings, produced)
    assert accounting.ok, accounting.summary()
    assert accounting.users >= 240
    # Identical replicas: equal fingerprints (weights, vocabulary, version), compared by
    # the group itself at every step without a mismatch.
    assert prints[0] == prints[1] != 0
    for rank, rank_samples in enumerate(samples):
        assert metric_sum(rank_samples, "recstream_trainer_replica_divergences_total",
                          rank=str(rank)) == 0  # fmt: skip
    # Both ranks learned (each its own users) and published.
    for rank_samples in samples:
        assert metric_sum(rank_samples, "recstream_trainer_steps_total", outcome="learned") > 0
        assert metric_sum(rank_samples, "recstream_trainer_recommendations_published_total") > 0
    steps = [metric_sum(s, "recstream_trainer_group_steps_total") for s in samples]
    assert min(steps) > 0
    # One rank at a time per partition, and every partition was someone's.
    assert watch.samples > 5 and watch.overlaps == []
    assert {partition for _rank, partition in watch.seen} == set(range(PARTITIONS))
    # Rank 0 wrote checkpoints whose manifest covers every partition of the group.
    newest = CheckpointStore(settings.checkpoints.dir).newest_chain().newest
    assert newest is not None
    assert set(newest.extra["offsets"]["partitions"]) == {str(p) for p in range(PARTITIONS)}


def test_a_sigkilled_rank_is_restarted_with_the_group_and_nothing_is_lost(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    config, settings = _group_settings(kafka_settings, tmp_path, "groupkill")
    create_topics(settings)
    ports = [settings.metrics.trainer_port + rank for rank in range(RANKS)]
    events = _events(3_000, seed=9)
    produced: list[Event] = []
    store = CheckpointStore(settings.checkpoints.dir)
    with _pipeline(config, tmp_path) as (_sequencer, group):
        wait_for(lambda: _all_assigned(ports), 120, "both ranks to own partitions", group)
        before = _rank_pids(group)
        assert sorted(before) == list(range(RANKS)), before
        producer = threading.Thread(
            target=lambda: produced.extend(_produced(settings, events, rate=250.0)), daemon=True
        )
        producer.start()
        time.sleep(random.uniform(4.0, 7.0))
        assert store.newest_chain().newest is not None, "no checkpoint before the kill"
        os.kill(before[1], signal.SIGKILL)

        # The launcher stops the other rank and starts both again.
        def restarted() -> bool:
            now = _rank_pids(group)
            return len(now) == RANKS and set(now.values()).isdisjoint(before.values())

        wait_for(restarted, 120, "the group's restart", group)
        producer.join(60)
        wait_for(lambda: _all_assigned(ports), 120, "the restarted ranks to own partitions",
                 group)  # fmt: skip
        wait_for(lambda: _caught_up(settings, ports, produced), 180,
                 "the restarted group to catch up", group)  # fmt: skip
        time.sleep(1.0)
        prints = _fingerprints(ports)
        samples = [scrape(port) for port in ports]
    accounting = account_topics(settings, produced)
    assert accounting.ok, accounting.summary()
    assert accounting.users >= 240
    assert prints[0] == prints[1] != 0
    # Both restarted ranks restored the same checkpoint and resumed at its offsets.
    restored = {metric_sum(s, "recstream_trainer_restored_version") for s in samples}
    assert len(restored) == 1 and restored.pop() > 0
    resumed = [{p: metric_sum(s, "recstream_trainer_resumed_offset", partition=str(p))
                for p in range(PARTITIONS)} for s in samples]  # fmt: skip
    assert resumed[0] == resumed[1] and sum(resumed[0].values()) > 0
