"""The trainer loop's model lifecycle: checkpoints when due, rollbacks when quality
collapses or a guard trips, the version numbers that stay above everything published,
and, in a trainer group, the round after each step in which the ranks decide those
together.

A mixin of :class:`stream.trainer.loop.TrainerLoop` (which owns the state named below):
the step loop and the lifecycle in one file were past this project's size rule.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from model.contract import Learner, StepReport
from model.replica_group import ReplicaGroupError
from stream.settings import TrainerSettings
from stream.trainer.catch_up import CatchUpQueue
from stream.trainer.group_member import GroupMember
from stream.trainer.group_round import Vote, decide
from stream.trainer.lifecycle import ModelLifecycle
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.pending_updates import MergedUpdate, PendingUpdates
from stream.trainer.recent_quality import RecentQuality

log = logging.getLogger(__name__)


class LoopLifecycle:
    learner: Learner
    settings: TrainerSettings
    metrics: TrainerMetrics
    lifecycle: ModelLifecycle | None
    member: GroupMember | None
    quality: RecentQuality
    pending: PendingUpdates
    catch_up: CatchUpQueue
    published_version: int
    position: Any
    executor: Any
    _held: list[MergedUpdate]

    def _continue_above(self, version: int) -> None:
        """Make the learner's next published version exceed ``version`` (a restart after
        a crash, or a rollback, would otherwise publish versions already used)."""
        if self.learner.version <= version:
            log.info("model version %d continues at %d, above the highest published",
                     self.learner.version, version + 1)  # fmt: skip
            self.learner.version = version + 1

    def _mark_learned(self, tags: list[Any]) -> None:
        if self.lifecycle is None:
            return
        for tag in tags:
            where = self.position(tag)
            if where is not None:
                self.lifecycle.tracker.learned(*where)

    async def _lifecycle(self, report: StepReport) -> None:
        """Checkpoint when due, roll back when quality collapsed or a guard tripped."""
        lifecycle = self.lifecycle
        assert lifecycle is not None
        loop = asyncio.get_running_loop()
        reason = lifecycle.observe(report.overall, report.skipped)
        if reason is not None:
            await loop.run_in_executor(self.executor, self._rollback, reason)
        elif lifecycle.due():
            await loop.run_in_executor(self.executor, lifecycle.checkpoint, self.learner,
                                       self.quality.summary())  # fmt: skip

    def _rollback(self, reason: str) -> None:
        assert self.lifecycle is not None
        restored = self.lifecycle.rollback(reason, self.settings.device)
        if restored is not None:
            if self.member is not None:
                restored.replicas = self.member.replicas
            self.learner = restored
            self._continue_above(self.published_version)
            self.metrics.model_version.set(restored.version)
            self.quality = RecentQuality(self.settings.quality_window_events)

    def _group_round(self, member: GroupMember, report: StepReport | None) -> None:
        """After each group step (learner thread): every rank votes, all act on the same
        decision. Raises :class:`ReplicaGroupError` when the replicas differ."""
        lifecycle = self.lifecycle
        member.steps += 1
        reason = None
        if lifecycle is not None and report is not None:
            reason = lifecycle.observe(report.overall, report.skipped)
        compare = member.steps % member.settings.fingerprint_every_steps == 0
        fingerprint = getattr(self.learner, "fingerprint", None)
        mine = fingerprint() if compare and fingerprint is not None else None
        vote = Vote(
            rollback=reason,
            checkpoint_due=lifecycle.due() if lifecycle is not None else False,
            offsets=lifecycle.tracker.safe() if lifecycle is not None else {},
            published_version=self.published_version,
            last_good_version=lifecycle.last_good_version if lifecycle is not None else None,
            fingerprint=mine,
            busy=bool(self.pending.count or len(self.catch_up) or self._held),
            consolidate=lifecycle.consolidation_due(self.learner) if lifecycle else False,
        )
        decision = decide(member.replicas.gather(vote), member.carried_offsets)
        member.busy = decision.busy
        member.metrics.record_exchange(member.replicas.take_stats())
        if mine is not None:
            member.metrics.fingerprint.labels(rank=member.metrics.rank).set(mine)
        if decision.diverged:
            member.metrics.divergences.labels(rank=member.metrics.rank).inc()
            raise ReplicaGroupError(f"the replicas differ after group step {member.steps}; "
                                    "restarting from the last checkpoint")  # fmt: skip
        self.published_version = max(self.published_version, decision.published_version)
        if lifecycle is None:
            return
        lifecycle.last_good_version = decision.last_good_version
        if decision.rollback is not None:
            self._rollback(decision.rollback)
        elif decision.checkpoint:
            member.carried_offsets = decision.offsets
            if member.writes_checkpoints:
                lifecycle.checkpoint(self.learner, self.quality.summary(), decision.offsets,
                                     decision.consolidate)  # fmt: skip
            else:
                lifecycle.written_elsewhere(self.learner, decision.consolidate)
