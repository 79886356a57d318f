"""Offsets a checkpoint may claim, when quality counts as collapsed, and the step loop
checkpointing and rolling back a real learner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import torch
from prometheus_client import CollectorRegistry

from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointStore
from model.transformer_learner import TransformerLearner
from stream.messages.recommendation import RecommendationMessage
from stream.messages.sequence_update import SequenceUpdate
from stream.metrics.scrape import metric_sum
from stream.settings import Settings
from stream.trainer.lifecycle import ModelLifecycle
from stream.trainer.loop import TrainerLoop
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.offsets import OffsetTracker
from stream.trainer.quality_watch import QualityWatch
from tests.unit.model.helpers import cycle_batches, tiny_config
from tests.unit.test_metrics_scrape import samples_of
from tests.unit.test_trainer_helpers import sums


def test_offsets_never_claim_an_update_still_waiting() -> None:
    tracker = OffsetTracker({0: 10})
    for offset in (10, 11, 12, 13):
        tracker.read(0, offset)
    tracker.read(1, 0)
    tracker.learned(0, 10)
    tracker.learned(0, 12)  # 11 waits (its user was not in the step)
    assert tracker.safe() == {0: 11, 1: 0}
    tracker.learned(0, 11)
    tracker.learned(1, 0)
    assert tracker.safe() == {0: 13, 1: 1}
    tracker.learned(0, 13)
    assert tracker.safe() == {0: 14, 1: 1}
    assert OffsetTracker({3: 7}).safe() == {3: 7}  # untouched partitions keep their offset


def test_quality_collapse_needs_full_windows_and_a_real_fall() -> None:
    watch = QualityWatch(0.5, recent_events=10, trailing_events=40)
    watch.add(sums(0, 10))  # bad from the start is not a collapse: nothing to compare
    assert not watch.collapsed()
    for _ in range(4):
        watch.add(sums(6, 4))
    assert watch.ready and not watch.collapsed()
    watch.add(sums(3, 7))  # 0.3 of 0.52 trailing: a dip, not a collapse
    assert not watch.collapsed()
    watch.add(sums(0, 10))
    assert watch.collapsed() and not watch.healthy()
    assert not QualityWatch(None, 10, 40).collapsed()


def update(user: str, items: list[str], ts: float) -> SequenceUpdate:
    return SequenceUpdate(
        user_id=user, items=items, actions=["view"] * len(items),
        ts=[ts - len(items) + i for i in range(len(items))],
        event_ids=[f"{user}-{ts}-{i}" for i in range(len(items))], new_count=len(items),
        event_id=f"{user}-{ts}-{len(items) - 1}", event_ts=ts, ingest_ts=ts, emitted_ts=ts,
    )  # fmt: skip


def test_the_loop_checkpoints_and_rolls_back_when_a_guard_trips(tmp_path: Path) -> None:
    settings = Settings().model_copy(update={
        "trainer": Settings().trainer.model_copy(
            update={"train_budget_ms": None, "train_every_ms": 0}  # every step learns
        ),
        "checkpoints": Settings().checkpoints.model_copy(
            update={"dir": tmp_path / "ckpt", "every_steps": 2, "every_s": 3600.0}),
    })  # fmt: skip
    torch.manual_seed(0)
    registry = CollectorRegistry()
    metrics = TrainerMetrics.create(registry)
    store = CheckpointStore(settings.checkpoints.dir)
    lifecycle = ModelLifecycle(LearnerCheckpointer(store), settings, metrics)
    published: list[RecommendationMessage] = []

    async def publish(messages: list[RecommendationMessage]) -> None:
        published.extend(messages)

    learner = TransformerLearner(tiny_config())
    loop = TrainerLoop(learner=learner, settings=settings.trainer, metrics=metrics,
                       publish=publish, acknowledge=lambda _tags: None,
                       lifecycle=lifecycle, position=lambda tag: tag)  # fmt: skip
    batches = cycle_batches(users=6, rounds=5)
    offset = 0

    async def step(batch: list[Any]) -> None:
        nonlocal offset
        queued = []
        for seq in batch:
            queued.append((update(seq.user_id, list(seq.items), 1e9 + offset), (0, offset)))
            offset += 1
        loop.add(queued)
        await loop.step_once()

    async def scenario() -> None:
        for batch in batches[:4]:
            await step(batch)
        assert [info.model_version for info in store.checkpoints()] == [2, 4]
        assert store.checkpoints()[-1].extra["offsets"]["partitions"] == {"0": 24}
        # An exploding update (an infinite learning rate): the weights after the step
        # are not finite, a guard skips it, and the loop restores the last checkpoint.
        for group in loop.learner.table.dense_optimizer.param_groups:  # type: ignore[attr-defined]
            group["lr"] = float("inf")
        await step(batches[4])
        loop.close()

    asyncio.run(scenario())
    samples = samples_of(registry)
    assert metric_sum(samples, "recstream_trainer_rollbacks_total", reason="guard") == 1
    assert metric_sum(samples, "recstream_trainer_restored_version") == 4
    # The restored weights are version 4, which was already published (the skipped step
    # ranked with it): the loop continues above it, so no user sees a version twice.
    assert loop.learner is not learner and loop.learner.version == 5
    assert all(torch.isfinite(p).all() for p in loop.learner.model.parameters())  # type: ignore[attr-defined]
    assert metric_sum(samples, "recstream_trainer_checkpoints_total", kind="full") == 1
    assert metric_sum(samples, "recstream_trainer_checkpoints_total", kind="delta") == 1


def test_a_checkpoint_that_cannot_be_written_is_counted_and_retried_later(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the checkpoint folder should be")  # root ignores modes
    settings = Settings().model_copy(update={
        "checkpoints": Settings().checkpoints.model_copy(
            update={"dir": blocked, "every_steps": 1, "every_s": 3600.0}),
    })  # fmt: skip
    registry = CollectorRegistry()
    metrics = TrainerMetrics.create(registry)
    lifecycle = ModelLifecycle(LearnerCheckpointer(CheckpointStore(blocked)), settings, metrics)
    learner = TransformerLearner(tiny_config())
    lifecycle.steps_since = 1
    assert lifecycle.due()
    assert lifecycle.checkpoint(learner, {}) is None  # no exception: serving goes on
    assert not lifecycle.due()  # backoff before the next attempt
    assert lifecycle.checkpoint(learner, {}) is None
    assert lifecycle.failures_in_a_row == 2
    samples = samples_of(registry)
    assert metric_sum(samples, "recstream_trainer_checkpoint_write_failures_total") == 2
    blocked.unlink()  # the disk is fixed: the next attempt writes
    lifecycle.retry_at = 0.0
    info = lifecycle.checkpoint(learner, {})
    assert info is not None and info.kind == "full" and lifecycle.failures_in_a_row == 0
    assert [i.name for i in CheckpointStore(blocked).checkpoints()] == [info.name]


def test_adapters_are_merged_at_every_nth_full_checkpoint_only(tmp_path: Path) -> None:
    settings = Settings().model_copy(update={
        "checkpoints": Settings().checkpoints.model_copy(
            update={"dir": tmp_path / "ckpt", "full_every": 2, "consolidate_every_full": 2}),
    })  # fmt: skip
    torch.manual_seed(0)
    registry = CollectorRegistry()
    metrics = TrainerMetrics.create(registry)
    checkpointer = LearnerCheckpointer(CheckpointStore(settings.checkpoints.dir), full_every=2)
    lifecycle = ModelLifecycle(checkpointer, settings, metrics)
    learner = TransformerLearner(tiny_config(online="adapters"))
    merged = []
    for batch in cycle_batches(rounds=5):
        learner.learn(batch)
        full = checkpointer.next_is_full
        lifecycle.checkpoint(learner, {})
        adapters_zero = all(not p.any() for n, p in learner.model.named_parameters()
                            if ".lora_B." in n)  # fmt: skip
        merged.append((full, adapters_zero))
    # Checkpoints: full, delta, full, delta, full; every 2nd full merges (fresh B = 0).
    assert merged == [(True, False), (False, False), (True, True), (False, False), (True, False)]
    assert registry.get_sample_value("recstream_trainer_consolidations_total") == 1
