"""A trainer that runs alone, reported as rank 0 of a group of one: the dashboard's
trainer-group panels read the same series whether an operator runs one rank or several
(no collectives, so 0 seconds and 0 bytes per step), and its fingerprint says which
model it serves, to compare with another deployment's or after a restore."""

from __future__ import annotations

from dataclasses import dataclass

from model.replica_group import ExchangeStats
from stream.trainer.group_metrics import GroupMetrics


@dataclass
class SoloReplica:
    metrics: GroupMetrics
    fingerprint_every_steps: int
    steps: int = 0

    def stepped(self, learner: object) -> None:
        """After each learning step (learner thread: the weights are not moving)."""
        self.steps += 1
        self.metrics.record_exchange(ExchangeStats())
        fingerprint = getattr(learner, "fingerprint", None)
        if fingerprint is not None and (
            self.steps == 1 or self.steps % self.fingerprint_every_steps == 0
        ):
            self.metrics.fingerprint.labels(rank=self.metrics.rank).set(fingerprint())
