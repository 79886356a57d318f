"""The trainer's model lifecycle: periodic checkpoints with the offsets they cover, and
automatic rollback to the last good checkpoint. Every method that touches the learner
runs in the learner thread (the step loop calls them between steps)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointInfo
from model.contract import Learner
from model.ranking_metrics import RankingSums
from model.transformer_learner import TransformerLearner
from stream.settings import Settings
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.offsets import OffsetTracker
from stream.trainer.quality_watch import QualityWatch

log = logging.getLogger(__name__)

CHECKPOINT_RETRY_MAX_S = 300.0  # the longest wait between attempts after failed writes


def settings_hash(settings: Settings) -> str:
    """What a checkpoint's weights depend on: the model, the actions, the window length."""
    relevant = {
        "model": settings.model.model_dump(mode="json"),
        "actions": list(settings.topics.events),
        "max_events": settings.window.max_events,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class ModelLifecycle:
    checkpointer: LearnerCheckpointer
    settings: Settings
    metrics: TrainerMetrics
    tracker: OffsetTracker = field(default_factory=OffsetTracker)
    watch: QualityWatch | None = None
    last_good_version: int | None = None  # the newest checkpoint taken while quality was fine
    steps_since: int = 0
    last_checkpoint_at: float = field(default_factory=time.monotonic)
    retry_at: float = 0.0  # after a failed write: not before this (monotonic seconds)
    failures_in_a_row: int = 0
    fulls_written: int = 0  # full snapshots this process wrote (consolidation counts them)

    def __post_init__(self) -> None:
        c = self.settings.checkpoints
        if self.watch is None:
            self.watch = QualityWatch(c.rollback_ndcg_fraction,
                                      self.settings.trainer.quality_window_events,
                                      c.rollback_trailing_events)  # fmt: skip

    # -- decisions (event loop) ----------------------------------------------------

    def observe(self, sums: RankingSums, skipped: bool) -> str | None:
        """After a step: the reason to roll back now, or None."""
        assert self.watch is not None
        self.steps_since += 1
        if skipped and self.settings.checkpoints.rollback_on_guard:
            return "guard"
        self.watch.add(sums)
        return "quality" if self.watch.collapsed() else None

    def due(self) -> bool:
        c = self.settings.checkpoints
        if time.monotonic() < self.retry_at:
            return False
        return self.steps_since >= c.every_steps or (
            time.monotonic() - self.last_checkpoint_at >= c.every_s and self.steps_since > 0
        )

    # -- actions (learner thread) ----------------------------------------------------

    def consolidation_due(self, learner: Learner) -> bool:
        """Whether the next checkpoint merges the adapters first: it is a full snapshot,
        the N-th since this process started (``checkpoints.consolidate_every_full``), and
        the learner trains adapters."""
        every = self.settings.checkpoints.consolidate_every_full
        return (
            every > 0
            and isinstance(learner, TransformerLearner)
            and learner.config.online == "adapters"
            and self.checkpointer.next_is_full
            and (self.fulls_written + 1) % every == 0
        )

    def consolidate(self, learner: Learner) -> None:
        """Merge the adapters into the backbone, fresh adapters from here (learner thread)."""
        if isinstance(learner, TransformerLearner) and learner.consolidate():
            self.metrics.consolidations.inc()
            log.info("adapters merged into the backbone at model version %d", learner.version)

    def checkpoint(
        self, learner: Learner, quality: dict[str, float], offsets: dict[int, int] | None = None,
        consolidate: bool | None = None,
    ) -> CheckpointInfo | None:  # fmt: skip
        """Write a checkpoint (covering ``offsets``, a group's; default: this process's
        safe offsets), merging the adapters first when ``consolidate`` (None: when
        :meth:`consolidation_due`); a failed write (permissions, disk full) is logged,
        counted and retried with exponential backoff, and serving goes on meanwhile."""
        if consolidate if consolidate is not None else self.consolidation_due(learner):
            self.consolidate(learner)
        full = self.checkpointer.next_is_full
        try:
            info = self._write(learner, quality, offsets)
        except OSError as exc:
            self.failures_in_a_row += 1
            backoff = min(CHECKPOINT_RETRY_MAX_S, 2.0 ** (self.failures_in_a_row - 1))
            self.retry_at = time.monotonic() + backoff
            self.metrics.checkpoint_write_failures.inc()
            log.error("checkpoint write failed (%s: %s); serving goes on, retrying in %.0f s",
                      type(exc).__name__, exc, backoff)  # fmt: skip
            return None
        self.failures_in_a_row, self.retry_at = 0, 0.0
        self.fulls_written += full
        return info

    def written_elsewhere(self, learner: Learner, consolidate: bool) -> None:
        """Another rank of the group wrote the checkpoint this one agreed to (merging the
        adapters first, as every rank does, when ``consolidate``)."""
        if consolidate:
            self.consolidate(learner)
        self.steps_since = 0
        self.last_checkpoint_at = time.monotonic()

    def _write(
        self, learner: Learner, quality: dict[str, float], offsets: dict[int, int] | None
    ) -> CheckpointInfo:
        assert self.watch is not None
        assert isinstance(learner, TransformerLearner), "only the transformer is checkpointed"
        started = time.perf_counter()
        good = self.watch.healthy()
        offsets = self.tracker.safe() if offsets is None else offsets
        info = self.checkpointer.save(learner, {
            "offsets": {"topic": self.settings.topics.sequences,
                        "partitions": {str(p): o for p, o in sorted(offsets.items())}},
            "metrics": quality,
            "good": good,
            "settings_hash": settings_hash(self.settings),
        })  # fmt: skip
        seconds = time.perf_counter() - started
        self.metrics.checkpoints.labels(kind=info.kind).inc()
        self.metrics.checkpoint_seconds.labels(kind=info.kind).observe(seconds)
        self.metrics.checkpoint_bytes.labels(kind=info.kind).set(info.bytes)
        if good:
            self.last_good_version = info.model_version
        self.steps_since = 0
        self.last_checkpoint_at = time.monotonic()
        log.info("checkpoint %s (%s, %.1f MB, %.2fs)", info.name, info.kind,
                 info.bytes / 1e6, seconds)  # fmt: skip
        return info

    def rollback(self, reason: str, device: str) -> TransformerLearner | None:
        """The last good checkpoint as a learner, or None when there is none."""
        assert self.watch is not None
        restored = self.checkpointer.restore(device, at_most_version=self.last_good_version)
        self.watch.reset()
        self.steps_since = 0
        if restored is None:
            log.error("rollback (%s) wanted, but there is no consistent checkpoint", reason)
            self.metrics.rollbacks.labels(reason=f"{reason}_without_checkpoint").inc()
            return None
        learner, info, problems = restored
        for problem in problems:
            log.warning("checkpoint problem: %s", problem)
            self.metrics.checkpoint_problems.inc()
        self.metrics.rollbacks.labels(reason=reason).inc()
        self.metrics.restored_version.set(info.model_version)
        log.warning("ROLLBACK (%s): restored checkpoint %s, model version %d", reason, info.name,
                    info.model_version)  # fmt: skip
        return learner


def resume_offsets(info: CheckpointInfo, topic: str) -> dict[int, int]:
    """The per-partition offsets a checkpoint covers, when they are for ``topic``."""
    offsets: dict[str, Any] = info.extra.get("offsets") or {}
    if offsets.get("topic") != topic:
        return {}
    return {int(p): int(o) for p, o in (offsets.get("partitions") or {}).items()}
