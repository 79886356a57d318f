"""A trainer process's membership of a trainer group: its replica group (the
collectives), the group's settings and metrics, and the offsets the group last agreed
on. ``None`` in a trainer that runs alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from model.replica_group import ReplicaGroup
from stream.settings import DistributedSettings
from stream.trainer.group_metrics import GroupMetrics


@dataclass
class GroupMember:
    replicas: ReplicaGroup
    settings: DistributedSettings
    metrics: GroupMetrics
    # The group's resume offsets as of its last checkpoint (at start: the restored one's).
    carried_offsets: dict[int, int] = field(default_factory=dict)
    steps: int = 0
    last_step_started: float = 0.0  # monotonic
    busy: bool = False  # the last round said some rank has work waiting

    @property
    def rank(self) -> int:
        return self.replicas.rank

    @property
    def writes_checkpoints(self) -> bool:
        return self.replicas.rank == 0
