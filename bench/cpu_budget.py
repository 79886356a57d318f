"""Where the CPU of one event goes, by stage, in a freshness run.

Process CPU comes from /proc (sequencer, trainer, broker; the benchmark's own
producer is left out). Inside the sequencer, its agent thread's CPU per stage
(``recstream_sequencer_stage_cpu_seconds``); the rest of the process is Faust's
intake, its producer and commit paths, and the metrics. Inside the trainer, the
learner thread's CPU (``recstream_trainer_learner_cpu_seconds``), split between ranking
and training by their wall seconds; the rest is the Faust intake, decoding,
publishing and acknowledging. Messages per event
come from the topics' end offsets, so every Kafka message the loop wrote is counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from bench.learning import Learning
from stream.kafka.client_options import kafka_python_options
from stream.kafka.topics import windows_changelog
from stream.metrics.scrape import Samples, metric_sum
from stream.settings import Settings

CORES = os.cpu_count() or 1


def broker_pid() -> int | None:
    """The one local Kafka broker process, if exactly one runs."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"kafka.Kafka" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found[0] if len(found) == 1 else None


def messages_by_topic(settings: Settings) -> dict[str, int]:
    """Messages written so far to each topic of the loop (sum of end offsets)."""
    t = settings.topics
    topics = {"events": list(t.events.values()), "changelog": [windows_changelog(settings)],
              "sequences": [t.sequences], "recommendations": [t.recommendations],
              "deadletter": [t.deadletter]}  # fmt: skip
    consumer = KafkaConsumer(**kafka_python_options(settings.kafka), group_id=None)
    try:
        out = {}
        for role, names in topics.items():
            partitions = [TopicPartition(name, p) for name in names
                          for p in consumer.partitions_for_topic(name) or []]  # fmt: skip
            out[role] = sum(consumer.end_offsets(partitions).values()) if partitions else 0
        return out
    finally:
        consumer.close()


@dataclass
class CpuBudget:
    """CPU microseconds per produced event, by stage, and Kafka messages per event."""

    events: int
    sequencer_us: float
    sequencer_process_us: float  # parse, validate, window logic and table reads
    sequencer_table_us: float  # window writes (changelog messages queued)
    sequencer_publish_us: float  # sequence updates and dead letters to the producer
    sequencer_faust_us: float  # the rest: Faust's intake, producer, commits, metrics
    broker_us: float
    trainer_us: float
    trainer_rank_us: float
    trainer_train_us: float
    trainer_faust_us: float  # the rest: intake, decoding, publishing, acknowledging
    rank_us_per_user: float
    train_us_per_sequence: float
    total_us: float
    affordable_us_at_1000: float = 1e6 * CORES / 1_000  # all cores, nothing else running
    messages_per_event: dict[str, float] = field(default_factory=dict)


def cpu_budget(
    events: int, cpu_s: dict[str, float], seq: Samples, trainer: Samples,
    messages: dict[str, int],
) -> CpuBudget:  # fmt: skip
    """``cpu_s``: CPU seconds of "sequencer", "trainer" and "broker" over the run."""
    per = 1e6 / max(events, 1)
    stage = {s: metric_sum(seq, "recstream_sequencer_stage_cpu_seconds_total", stage=s)
             for s in ("process", "table", "publish")}  # fmt: skip
    rank_wall = metric_sum(trainer, "recstream_trainer_step_seconds_sum", phase="rank")
    train_wall = metric_sum(trainer, "recstream_trainer_step_seconds_sum", phase="train")
    # Wall seconds include waits for a core; the learner thread's CPU is split between
    # the phases in proportion to their wall time.
    cpu = metric_sum(trainer, "recstream_trainer_learner_cpu_seconds_total")
    share = cpu / (rank_wall + train_wall) if cpu and rank_wall + train_wall else 1.0
    rank_s, train_s = rank_wall * share, train_wall * share
    learning = Learning.from_samples(trainer)
    total = sum(cpu_s.values())
    return CpuBudget(
        events=events,
        sequencer_us=cpu_s["sequencer"] * per,
        sequencer_process_us=stage["process"] * per,
        sequencer_table_us=stage["table"] * per,
        sequencer_publish_us=stage["publish"] * per,
        sequencer_faust_us=(cpu_s["sequencer"] - sum(stage.values())) * per,
        broker_us=cpu_s["broker"] * per,
        trainer_us=cpu_s["trainer"] * per,
        trainer_rank_us=rank_s * per,
        trainer_train_us=train_s * per,
        trainer_faust_us=(cpu_s["trainer"] - rank_s - train_s) * per,
        rank_us_per_user=1e6 * rank_s / max(learning.read, 1),
        train_us_per_sequence=1e6 * train_s / max(learning.learned, 1),
        total_us=total * per,
        messages_per_event={role: n / max(events, 1) for role, n in messages.items()},
    )


ROWS = (
    ("sequencer, all", "sequencer_us"),
    ("  parse, validate, windows", "sequencer_process_us"),
    ("  window table writes", "sequencer_table_us"),
    ("  publish updates", "sequencer_publish_us"),
    ("  Faust intake, producer, commits", "sequencer_faust_us"),
    ("broker", "broker_us"),
    ("trainer, all", "trainer_us"),
    ("  ranking", "trainer_rank_us"),
    ("  training", "trainer_train_us"),
    ("  Faust intake, decode, publish", "trainer_faust_us"),
    ("total", "total_us"),
    ("affordable at 1,000 events/s", "affordable_us_at_1000"),
)
