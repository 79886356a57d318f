"""What the trainer does before it starts consuming: pick its model (the newest
consistent checkpoint, else a warm start, else a fresh one) and put its consumer
group at the checkpoint's offsets, so every sequence update after the checkpoint
is learned again and none is skipped."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from model.checkpoint_store import CheckpointInfo, CheckpointStore
from model.contract import Learner
from model.learner_checkpoint import LearnerCheckpointer
from stream.learner_factory import learner_from_settings
from stream.metrics.trainer import TrainerMetrics
from stream.model_lifecycle import ModelLifecycle, resume_offsets, settings_hash
from stream.offset_tracker import OffsetTracker
from stream.settings import Settings
from stream.topics import admin_client

log = logging.getLogger(__name__)


@dataclass
class Start:
    learner: Learner
    lifecycle: ModelLifecycle | None
    offsets: dict[int, int] = field(default_factory=dict)  # where to resume, by partition
    restored: CheckpointInfo | None = None
    origin: str = "fresh"
    problems: list[str] = field(default_factory=list)


def prepare_learner(
    settings: Settings, model: str, metrics: TrainerMetrics, init_from: Path | None = None
) -> Start:
    if model != "transformer" or not settings.checkpoints.enabled:
        why = "checkpoints disabled" if model == "transformer" else f"{model} is a baseline"
        log.info("no checkpoints (%s)", why)
        return Start(learner_from_settings(model, settings), None)
    c = settings.checkpoints
    checkpointer = LearnerCheckpointer(CheckpointStore(c.dir, c.keep_chains), c.full_every)
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
        warm = LearnerCheckpointer(CheckpointStore(init_from)).restore(settings.trainer.device)
        if warm is None:
            raise FileNotFoundError(f"--init-from {init_from}: no consistent checkpoint there")
        learner, info, problems = warm
        lifecycle = ModelLifecycle(checkpointer, settings, metrics)
        # The warm model starts a chain of its own here; its offsets (if any) belong to
        # another stream, so the group's committed offsets decide where reading starts.
        return Start(learner, lifecycle, {}, None, f"warm start from {init_from}/{info.name}",
                     problems)  # fmt: skip
    return Start(
        learner_from_settings(model, settings), ModelLifecycle(checkpointer, settings, metrics)
    )


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
