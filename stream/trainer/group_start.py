"""A trainer rank's start in a trainer group: join the process group the launcher
describes, check that every rank restored the same model, put the consumer group at the
restored checkpoint's offsets (every rank at once, then a barrier: Kafka takes new
offsets only while the group has no members), agree on the versions to publish above."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry

from model.learner_config import pick_device
from model.replica_group import ReplicaGroup
from model.transformer_learner import TransformerLearner
from stream.settings import Settings
from stream.trainer.group_member import GroupMember
from stream.trainer.group_metrics import GroupMetrics
from stream.trainer.offsets import OffsetTracker
from stream.trainer.startup import Start, reset_group_offsets, resume_offsets_for


def join_trainer_group(settings: Settings) -> ReplicaGroup | None:
    """This process's replica group, or None when it trains alone (WORLD_SIZE <= 1)."""
    d, device = settings.distributed, pick_device(settings.trainer.device)
    return ReplicaGroup.join(d.backend, d.collective_timeout_s, device)


def local_rank() -> int:
    """This rank's number on its host (torchrun's LOCAL_RANK): the offset of its ports."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def start_in_group(
    settings: Settings, replicas: ReplicaGroup, start: Start, registry: CollectorRegistry,
    published_version: int,
) -> tuple[GroupMember, int]:  # fmt: skip
    """Make ``start``'s learner a replica; returns the membership and the version every
    rank publishes above. Raises RuntimeError when the ranks restored different models."""
    learner = start.learner
    if not isinstance(learner, TransformerLearner):
        raise RuntimeError(f"a trainer group trains the transformer, not {learner.name}")
    learner.replicas = replicas
    prints = replicas.gather((learner.fingerprint(), start.origin))
    if len({fingerprint for fingerprint, _origin in prints}) > 1:
        origins = "; ".join(f"rank {rank}: {origin}" for rank, (_fp, origin) in enumerate(prints))
        raise RuntimeError(
            f"the ranks started from different models ({origins}): checkpoints.dir must be "
            "one folder every rank reads (a shared file system when ranks are on several hosts)"
        )
    offsets = resume_offsets_for(settings, start)
    reset_group_offsets(settings, offsets)
    replicas.barrier()
    if start.lifecycle is not None:
        # Each rank reports the partitions it reads; the group's manifest merges them.
        start.lifecycle.tracker = OffsetTracker()
    metrics = GroupMetrics.create(registry, replicas.rank, replicas.world_size)
    member = GroupMember(replicas, settings.distributed, metrics, carried_offsets=dict(offsets))
    highest = max(replicas.gather(published_version))
    replicas.take_stats()  # start-up exchanges are not a step's
    return member, highest
