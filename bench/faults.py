"""Faults injected on purpose into real processes, each run ending in the accounting of
every produced event (stream/local/accounting.py): sequencers joining, leaving and killed
mid-backlog, poison sequence updates with an unwritable checkpoint folder, a trainer
killed before its first checkpoint and twice during checkpoint writes, and the broker
stopped for 15 s with ``recstream produce`` running.

    python -m bench.faults --runs 5                 # every scenario five times
    python -m bench.faults --scenario join --runs 20

The integration tests (tests/integration/test_faults.py) run each scenario once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer
from rich.console import Console
from rich.table import Table

from bench.common import write_result
from bench.fault_rig import FaultRig, many_user_events, stop_every_rig
from stream.kafka.client_options import kafka_python_options
from stream.kafka.topic_reader import read_topic
from stream.local.accounting import Accounting
from stream.local.broker import LocalBroker
from stream.local.sandbox import TEST_CONFIG, running_broker, wait_for
from stream.messages.sequence_update import SequenceUpdate
from stream.metrics.scrape import metric_sum
from stream.paths import REPO_ROOT
from stream.settings import Settings, load_settings

console = Console(width=160)


@dataclass
class FaultResult:
    scenario: str
    seconds: float
    accounting: Accounting
    problems: list[str] = field(default_factory=list)  # expectations of the scenario not met
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.accounting.ok and not self.problems


Scenario = Callable[[Settings, Path, int], FaultResult]
PARTITIONS = {"topics": {"partitions": 4}}  # room for four sequencers


def _finish(rig: FaultRig, name: str, started: float, problems: list[str],
            facts: dict[str, Any], expected_alive: list[Any],
            inspect: Callable[[], None] = lambda: None) -> FaultResult:  # fmt: skip
    """Drain, check who is alive, ``inspect`` the live workers, account, stop all."""
    try:
        # A worker that should work and died will not drain its group: look briefly.
        everyone_up = all(worker.alive() for worker in expected_alive)
        with contextlib.suppress(AssertionError):
            facts["drain_s"] = round(rig.wait_drained(240 if everyone_up else 20), 1)
        if "drain_s" not in facts:
            problems.append("the groups did not commit everything (lag left)")
        for worker in expected_alive:
            if not worker.alive():
                problems.append(f"{worker.role} {worker.log_path.name} exited:\n"
                                f"{worker.log_tail(15)}")  # fmt: skip
        # The idle re-read (stream/kafka/stuck_partitions.py) is a last resort: a run that needed
        # it did not hold by the lossless consumer alone.
        facts["idle_rereads"] = rig.sequencer_metric("recstream_sequencer_partition_rewinds_total")
        if facts["idle_rereads"]:
            problems.append(f"{facts['idle_rereads']:.0f} partitions needed the idle re-read")
        inspect()
        accounting = rig.account()
    finally:
        rig.stop_all()
    facts["produced"] = sum(r.sent for r in rig.produced)
    if facts["produced"] and facts["produced"] != accounting.produced:
        problems.append(f"sent {facts['produced']} events, the topics hold {accounting.produced}")
    return FaultResult(name, round(time.monotonic() - started, 1), accounting, problems, facts)


def _backlog_with(
    base: Settings, workdir: Path, seed: int, name: str,
    act: Callable[[FaultRig, int], list[Any]],
) -> FaultResult:  # fmt: skip
    """A 16k-event backlog of 4,000 users, a trainer, and sequencers moved by ``act``
    (given the rig and the total; returns the workers that must be alive at the end)."""
    started = time.monotonic()
    rig = FaultRig(base, workdir, f"{name}{seed}", PARTITIONS)
    events = many_user_events(users=4_000, per_user=4, seed=seed)
    rig.produce(events, rate=50_000)
    trainer = rig.trainer()
    alive = [trainer, *act(rig, len(events))]
    return _finish(rig, name, started, [], {}, alive)


def _at_share(rig: FaultRig, total: int, share: float) -> None:
    wait_for(lambda: rig.sequencer_events() >= share * total, 180,
             f"the sequencers to read {share:.0%} of the backlog")  # fmt: skip


def join(base: Settings, workdir: Path, seed: int) -> FaultResult:
    """A second sequencer joins while the first reads the backlog."""

    def act(rig: FaultRig, total: int) -> list[Any]:
        first = rig.sequencer()
        _at_share(rig, total, 0.15)
        return [first, rig.sequencer()]

    return _backlog_with(base, workdir, seed, "join", act)


def join_three(base: Settings, workdir: Path, seed: int) -> FaultResult:
    """Three more sequencers join one at a time during the backlog."""

    def act(rig: FaultRig, total: int) -> list[Any]:
        workers = [rig.sequencer()]
        for share in (0.1, 0.25, 0.4):
            _at_share(rig, total, share)
            workers.append(rig.sequencer())
        return workers

    return _backlog_with(base, workdir, seed, "join3", act)


def leave(base: Settings, workdir: Path, seed: int) -> FaultResult:
    """One of two sequencers is stopped (SIGTERM) mid-backlog; the other finishes."""

    def act(rig: FaultRig, total: int) -> list[Any]:
        first, second = rig.sequencer(), rig.sequencer()
        _at_share(rig, total, 0.3)
        second.stop()
        return [first]

    return _backlog_with(base, workdir, seed, "leave", act)


def kill(base: Settings, workdir: Path, seed: int) -> FaultResult:
    """One of two sequencers is SIGKILLed mid-backlog; a replacement joins later."""

    def act(rig: FaultRig, total: int) -> list[Any]:
        first, second = rig.sequencer(), rig.sequencer()
        _at_share(rig, total, 0.3)
        second.kill()
        _at_share(rig, total, 0.5)
        return [first, rig.sequencer()]

    return _backlog_with(base, workdir, seed, "kill", act)


def poison_payloads(user: str) -> list[bytes]:
    """The ten decodable-but-wrong sequence updates that stopped the trainer for good."""
    good = SequenceUpdate(user, ["a", "b"], ["view", "view"], [1.0, 2.0], [f"{user}-1",
                          f"{user}-2"], 1, f"{user}-2", 2.0, 2.0, 2.0).as_dict()  # fmt: skip
    changes: list[dict[str, Any]] = [
        {"ts": ["1", "2"]}, {"ts": None}, {"ts": [[1.0], [2.0]]}, {"ts": [1.7e308, 2.0]},
        {"ts": [-1.7e308, 2.0]}, {"actions": [["view"], ["view"]]}, {"new_count": 1.5},
        {"event_ts": "2.0"}, {"ingest_ts": None}, {"event_ts": None},
    ]  # fmt: skip
    return [orjson.dumps(good | change) for change in changes]


def poison(base: Settings, workdir: Path, seed: int) -> FaultResult:
    """Ten poison updates on the sequences topic while the checkpoint folder cannot be
    written: the trainer dead-letters them, counts failed writes, and keeps serving."""
    started = time.monotonic()
    rig = FaultRig(base, workdir, f"poison{seed}", {"checkpoints": {"every_steps": 2}})
    # A file where the folder should be: unwritable even for root, who ignores modes.
    rig.settings.checkpoints.dir.write_text("not a folder")
    trainer, sequencer = rig.trainer(), rig.sequencer()
    rig.wait_up(rig.settings.metrics.trainer_port, trainer)
    producing = rig.produce_in_background(many_user_events(500, 8, seed), rate=400)
    time.sleep(3)
    producer = KafkaProducer(**kafka_python_options(rig.settings.kafka), acks="all")
    for n, payload in enumerate(poison_payloads(f"poison-{seed}")):
        producer.send(rig.settings.topics.sequences, key=f"poison-{n}".encode(), value=payload)
    producer.close()
    producing.join(120)
    problems: list[str] = []
    facts: dict[str, Any] = {}

    def inspect() -> None:
        samples = rig.trainer_metrics()
        facts["invalid_updates"] = metric_sum(samples, "recstream_trainer_invalid_updates_total")
        facts["checkpoint_write_failures"] = metric_sum(
            samples, "recstream_trainer_checkpoint_write_failures_total"
        )
        if facts["invalid_updates"] != 10:
            problems.append(f"{facts['invalid_updates']} invalid updates counted, not 10")
        if not facts["checkpoint_write_failures"]:
            problems.append("no failed checkpoint write counted")

    result = _finish(rig, "poison", started, problems, facts, [trainer, sequencer], inspect)
    letters = [
        orjson.loads(v)
        for _k, v, _p, _o in read_topic(rig.settings, rig.settings.topics.deadletter)
    ]
    from_trainer = [d for d in letters if d["topic"] == rig.settings.topics.sequences]
    facts["trainer_dead_letter_reasons"] = sorted({d["reason"] for d in from_trainer})
    if len(from_trainer) != 10:
        problems.append(f"{len(from_trainer)} poison updates dead-lettered, not 10")
    return result


def _kill_during_checkpoint_write(rig: FaultRig, trainer: Any, timeout_s: float) -> bool:
    """SIGKILL ``trainer`` while it writes a checkpoint, after it has written one of its
    own (so the next start restores a chain with a torn write beside it); at the end of
    ``timeout_s`` kill it anyway. True when a write was caught."""
    folder = rig.settings.checkpoints.dir

    def complete() -> set[str]:
        names = {p.name for p in folder.iterdir()} if folder.exists() else set()
        return {name for name in names if not name.startswith(".")}

    before = complete()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not complete() - before:
        time.sleep(0.01)
    while time.monotonic() < deadline:
        if folder.exists() and any(p.name.startswith(".tmp-") for p in folder.iterdir()):
            trainer.kill()
            return True
        time.sleep(0.001)
    trainer.kill()
    return False


def trainer_kills(base: Settings, workdir: Path, seed: int) -> FaultResult:
    """A trainer killed before its first checkpoint, then two killed during checkpoint
    writes: nothing learned is skipped, and no user's model version goes down."""
    started = time.monotonic()
    often = {"checkpoints": {"every_steps": 3, "every_s": 0.5, "full_every": 3}}
    rig = FaultRig(base, workdir, f"trkill{seed}", often)
    sequencer = rig.sequencer()
    never = {"RECSTREAM_CHECKPOINTS__EVERY_STEPS": "1000000",
             "RECSTREAM_CHECKPOINTS__EVERY_S": "1000000"}  # fmt: skip
    first = rig.trainer(env=never, name="trainer-0")
    port = rig.settings.metrics.trainer_port
    rig.wait_up(port, first)
    producing = rig.produce_in_background(many_user_events(1_000, 8, seed), rate=400)
    wait_for(lambda: metric_sum(rig.trainer_metrics(), "recstream_trainer_model_version") >= 3,
             60, "the first trainer's steps", first)  # fmt: skip
    first.kill()
    problems: list[str] = []
    facts: dict[str, Any] = {"caught_writes": 0}
    trainer = first
    for n in (1, 2):
        trainer = rig.trainer(name=f"trainer-{n}")
        rig.wait_up(port, trainer)
        if n == 1:
            resumed = {k: v for k, v in rig.trainer_metrics().items()
                       if k[0] == "recstream_trainer_resumed_offset"}  # fmt: skip
            if not resumed or any(v != 0 for v in resumed.values()):
                problems.append(f"no checkpoint, yet not resumed from the start: {resumed}")
        facts["caught_writes"] += _kill_during_checkpoint_write(rig, trainer, 20)
    last = rig.trainer(name="trainer-3")
    producing.join(120)
    return _finish(rig, "trainer_kills", started, problems, facts, [sequencer, last])


def broker_outage(base: Settings, workdir: Path, seed: int) -> FaultResult:
    """The broker stops for 15 s while `recstream produce` sends; both workers and the
    producer ride it out, nothing is lost, and the logs stay readable."""
    started = time.monotonic()
    with running_broker(workdir / "broker", None) as own:
        rig = FaultRig(own, workdir, f"outage{seed}")
        sequencer, trainer = rig.sequencer(), rig.trainer()
        rig.wait_up(rig.settings.metrics.trainer_port, trainer)
        command = [sys.executable, "-m", "stream.cli", "produce", "--config", str(rig.config),
                   "--synthetic", "--users", "3000", "--events", "6000", "--rate", "200",
                   "--seed", str(seed)]  # fmt: skip
        with (workdir / "produce.log").open("wb") as log:
            producer = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log,
                                        stderr=subprocess.STDOUT)  # fmt: skip
            time.sleep(8)
            broker = LocalBroker.from_settings(own)
            broker.stop()
            time.sleep(15)
            broker.start()
            code = producer.wait(240)
        problems = [] if code == 0 else [f"recstream produce exited {code}"]
        result = _finish(rig, "broker_outage", started, problems, {}, [sequencer, trainer])
    result.facts["error_lines"] = {
        w.log_path.name: w.log_path.read_text(errors="replace").count("[ERROR]")
        for w in rig.workers
    }
    noisy = {name: n for name, n in result.facts["error_lines"].items() if n > MAX_ERROR_LINES}
    if noisy:
        problems.append(f"more than {MAX_ERROR_LINES} ERROR lines in a log: {noisy}")
    # 6,000 synthetic events, as `recstream produce --synthetic` sent them.
    result.facts["produced"] = result.accounting.produced
    if result.accounting.produced != 6_000:
        problems.append(f"the topics hold {result.accounting.produced} of 6,000 events")
    return result


MAX_ERROR_LINES = 200  # per worker log through the whole outage (it was ~2,900 in 39 s)

SCENARIOS: dict[str, Scenario] = {
    "join": join, "join3": join_three, "leave": leave, "kill": kill, "poison": poison,
    "trainer_kills": trainer_kills, "broker_outage": broker_outage,
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--bootstrap", default=os.environ.get("RECSTREAM_TEST_BOOTSTRAP"))
    args = parser.parse_args()
    names = args.scenario or list(SCENARIOS)
    results: list[FaultResult] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_broker(Path(tmp) / "broker", args.bootstrap) as broker,
    ):
        base = load_settings(TEST_CONFIG, kafka={"bootstrap_servers":
                                                 broker.kafka.bootstrap_servers})  # fmt: skip
        for run in range(args.runs):
            for name in names:
                try:
                    result = SCENARIOS[name](base, Path(tmp) / f"{name}-{run}", run)
                except (AssertionError, OSError, RuntimeError) as exc:  # a run that broke
                    problem = f"{type(exc).__name__}: {str(exc)[:300]}"
                    result = FaultResult(name, 0.0, Accounting(0), [problem])
                finally:
                    stop_every_rig()
                results.append(result)
                mark = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
                console.print(f"{name} run {run}: {mark} in {result.seconds:.0f}s: "
                              f"{result.accounting.summary()} {result.problems or ''} "
                              f"{result.facts}", highlight=False)  # fmt: skip
    table = Table("scenario", "runs", "ok", "missing", "doubled", "wrong windows",
                  "stale users", "version drops", "other problems", title="fault runs")  # fmt: skip
    for name in names:
        mine = [r for r in results if r.scenario == name]
        table.add_row(name, str(len(mine)), str(sum(r.ok for r in mine)),
                      *(str(sum(len(getattr(r.accounting, k)) for r in mine))
                        for k in ("missing", "doubled", "wrong_windows", "stale_users",
                                  "version_drops")),
                      str(sum(len(r.problems) for r in mine)))  # fmt: skip
    console.print(table)
    path = write_result("faults", {"runs": [asdict(r) | {"ok": r.ok} for r in results]})
    console.print(f"wrote {path}")
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
