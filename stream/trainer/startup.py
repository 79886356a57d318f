"""What the trainer does before it starts consuming: pick its model (the newest
consistent checkpoint, else a warm start, else a fresh one) and put its consumer
group at the checkpoint's offsets, so every sequence update after the checkpoint
is learned again and none is skipped; with no checkpoint, from the topic's start.
Versions continue above the highest ever published (read back from the output topic)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from model.checkpoints.checkpointer import open_checkpointer
from model.checkpoints.store import CheckpointInfo
from model.contract import Learner
from model.transformer_learner import TransformerLearner
from stream.kafka.topic_reader import assigned_consumer, read_tail
from stream.kafka.topics import admin_client
from stream.settings import Settings
from stream.trainer.learner_factory import learner_config, learner_from_settings
from stream.trainer.lifecycle import ModelLifecycle, resume_offsets, settings_hash
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.offsets import OffsetTracker

log = logging.getLogger(__name__)


@dataclass
class Start:
    learner: Learner
    lifecycle: ModelLifecycle | None
    offsets: dict[int, int] = field(default_factory=dict)  # where to resume, by partition
    restored: CheckpointInfo | None = None
    origin: str = "fresh"
    problems: list[str] = field(default_factory=list)
    from_start: bool = False  # no checkpoint: read the sequences topic from its start


def prepare_learner(
    settings: Settings, model: str, metrics: TrainerMetrics, init_from: Path | None = None
) -> Start:
    if model != "transformer" or not settings.checkpoints.enabled:
        why = "checkpoints disabled" if model == "transformer" else f"{model} is a baseline"
        log.info("no checkpoints (%s)", why)
        return Start(learner_from_settings(model, settings), None)
    c = settings.checkpoints
    checkpointer = open_checkpointer(c.dir, c.keep_chains, c.full_every)
    restored = checkpointer.restore(settings.trainer.device)
    problems: list[str] = []
    if restored is not None:
        learner, info, problems = restored
        offsets = resume_offsets(info, settings.topics.sequences)
        if info.extra.get("settings_hash") not in (None, settings_hash(settings)):
            log.warning("checkpoint %s was written with other model settings", info.name)
        lifecycle = ModelLifecycle(checkpointer, settings, metrics, OffsetTracker(offsets))
        lifecycle.last_good_version = info.model_version
        return Start(learner, lifecycle, offsets, info, f"checkpoint {info.name}", problems)
    if init_from is not None:
        warm = open_checkpointer(init_from).restore(settings.trainer.device)
        if warm is None:
            raise FileNotFoundError(f"--init-from {init_from}: no consistent checkpoint there")
        learner, info, problems = warm
        if isinstance(learner, TransformerLearner):
            # The backbone carries its pretraining's row policy; online, this trainer's
            # settings decide which item rows a step moves.
            learner.config = dataclasses.replace(
                learner.config, item_row_updates=settings.model.item_row_updates
            )
        if settings.model.online == "adapters" and isinstance(learner, TransformerLearner):
            # A backbone pretrained in full: from here on, adapters learn over it.
            learner.use_adapters(learner_config(settings).adapters)
        lifecycle = ModelLifecycle(checkpointer, settings, metrics)
        # The warm model starts a chain of its own here; its offsets (if any) belong to
        # another stream, so the group's committed offsets decide where reading starts.
        return Start(learner, lifecycle, {}, None, f"warm start from {init_from}/{info.name}",
                     problems)  # fmt: skip
    # No checkpoint: nothing read before is in this model, whatever the group committed
    # (a trainer killed before its first checkpoint); learn the topic from its start.
    if settings.model.online == "adapters":
        log.warning("model.online is adapters but there is no pretrained backbone "
                    "(--init-from): the adapters learn over a random, frozen decoder")  # fmt: skip
    return Start(
        learner_from_settings(model, settings),
        ModelLifecycle(checkpointer, settings, metrics),
        origin="fresh",
        from_start=True,
    )


def resume_offsets_for(settings: Settings, start: Start) -> dict[int, int]:
    """Where the trainer's group must resume: the checkpoint's offsets, or every
    partition's start for a fresh model (empty: the group's commits decide)."""
    if start.from_start:
        return dict.fromkeys(sequence_partitions(settings), 0)
    return start.offsets


def sequence_partitions(settings: Settings) -> list[int]:
    topic = settings.topics.sequences
    consumer, partitions = assigned_consumer(settings, topic, from_beginning=True)
    consumer.close()
    return [tp.partition for tp in partitions]


def highest_published_version(settings: Settings) -> int:
    """The highest model version in the recommendations topic's newest messages (-1 when
    empty): a new process publishes above it, so versions never go backwards, whatever
    the checkpoint it restored. Each process publishes increasing versions, so the tail
    of each partition holds the highest."""
    highest = -1
    for value in read_tail(settings, settings.topics.recommendations, per_partition=32):
        try:
            version = orjson.loads(value).get("model_version")
        except (orjson.JSONDecodeError, AttributeError):
            continue  # not ours to judge; the consumers of that topic see it too
        if isinstance(version, int) and not isinstance(version, bool):
            highest = max(highest, version)
    return highest


def reset_group_offsets(
    settings: Settings, offsets: dict[int, int], timeout_s: float | None = None
) -> None:
    """Commit ``offsets`` for the trainer's group before it joins.

    Kafka accepts this only while the group has no members: after a crash the old
    member stays until its session times out, so keep trying until then.
    """
    if not offsets:
        return
    topic, group = settings.topics.sequences, settings.trainer.app_id
    wanted = {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
    deadline = time.monotonic() + (timeout_s or settings.kafka.session_timeout_s * 2 + 10)
    while True:
        try:
            with admin_client(settings) as admin:
                results = admin.alter_group_offsets(group, wanted)
            failed = {tp: err for tp, err in results.items() if err.__name__ != "NoError"}
        except KafkaError as exc:
            failed = {TopicPartition(topic, -1): type(exc)}
        if not failed:
            log.info("resuming %s at the checkpoint's offsets %s", topic, offsets)
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"could not set the offsets of group {group}: {failed}")
        log.info("waiting for the previous trainer to leave group %s (%s)", group,
                 ", ".join(sorted({e.__name__ for e in failed.values()})))  # fmt: skip
        time.sleep(1.0)
