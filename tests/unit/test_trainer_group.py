"""The pieces of a trainer group that need no process group: the ranks' decision from
their votes, the group's resume offsets, what a rank forgets when a partition moves, and a
lone trainer's group metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from stream.messages.sequence_update import SequenceUpdate
from stream.trainer.group_metrics import GroupMetrics
from stream.trainer.group_round import Vote, decide, merge_offsets
from stream.trainer.offsets import OffsetTracker
from stream.trainer.pending_updates import PendingUpdates
from stream.trainer.solo_replica import SoloReplica


def _vote(**changes: object) -> Vote:
    base: dict[str, object] = {"rollback": None, "checkpoint_due": False, "offsets": {},
                               "published_version": 0, "last_good_version": None,
                               "fingerprint": None}  # fmt: skip
    fields: dict[str, Any] = {**base, **changes}
    return Vote(**fields)


def test_the_lowest_reported_offset_wins_and_unreported_partitions_keep_the_last_known() -> None:
    merged = merge_offsets([{0: 40, 1: 12}, {1: 9, 2: 70}], carried={0: 5, 1: 5, 2: 5, 3: 8})
    # Partition 1 moved between ranks: resume from the lower; 3 has had no reader since.
    assert merged == {0: 40, 1: 9, 2: 70, 3: 8}


def test_rank_zero_decides_checkpoints_any_rank_a_rollback_and_versions_take_the_max() -> None:
    votes = [
        _vote(checkpoint_due=True, published_version=7, last_good_version=5, offsets={0: 3}),
        _vote(rollback="quality", published_version=9, last_good_version=None, offsets={1: 4}),
    ]
    decision = decide(votes, carried={})
    assert decision.checkpoint and decision.rollback == "quality"
    assert decision.published_version == 9 and decision.last_good_version == 5
    assert decision.offsets == {0: 3, 1: 4} and not decision.diverged
    assert not decide([_vote(), _vote(checkpoint_due=True)], {}).checkpoint


def test_one_busy_rank_makes_the_group_step_again_at_once() -> None:
    assert decide([_vote(), _vote(busy=True)], {}).busy
    assert not decide([_vote(), _vote()], {}).busy


def test_differing_fingerprints_are_a_divergence_and_missing_ones_are_not() -> None:
    assert decide([_vote(fingerprint=1), _vote(fingerprint=2)], {}).diverged
    assert not decide([_vote(fingerprint=1), _vote(fingerprint=1)], {}).diverged
    assert not decide([_vote(fingerprint=1), _vote()], {}).diverged


def test_a_moved_partition_is_forgotten_by_the_tracker_and_its_waiting_updates_dropped() -> None:
    tracker = OffsetTracker()
    for partition, offset in ((0, 10), (0, 11), (1, 20)):
        tracker.read(partition, offset)
    tracker.learned(0, 10)
    tracker.forget({1})
    assert tracker.safe() == {0: 11}

    pending = PendingUpdates()
    updates = [
        SequenceUpdate(user_id=f"u{i}", items=["a"], actions=["view"], ts=[1.0],
                       event_ids=[f"e{i}"], new_count=1, event_id=f"e{i}", event_ts=1.0,
                       ingest_ts=1.0, emitted_ts=1.0)
        for i in range(3)
    ]  # fmt: skip
    pending.add([(updates[0], (0, 11)), (updates[1], (1, 20)), (updates[2], (1, 21))])
    assert pending.drop(lambda tag: tag[0] == 1) == 2
    assert pending.count == 1 and list(pending.by_user) == ["u0"]


class _Model:
    def __init__(self) -> None:
        self.print = 11

    def fingerprint(self) -> int:
        return self.print


def test_a_lone_trainer_reports_as_rank_zero_of_a_group_of_one() -> None:
    registry = CollectorRegistry()
    solo = SoloReplica(GroupMetrics.create(registry, rank=0, world_size=1), 3)
    model = _Model()
    solo.stepped(model)  # the first step shows which model it serves
    assert registry.get_sample_value("recstream_trainer_replica_fingerprint", {"rank": "0"}) == 11
    model.print = 12
    solo.stepped(model)
    assert registry.get_sample_value("recstream_trainer_replica_fingerprint", {"rank": "0"}) == 11
    solo.stepped(model)  # every third step
    assert registry.get_sample_value("recstream_trainer_replica_fingerprint", {"rank": "0"}) == 12
    value = registry.get_sample_value
    assert value("recstream_trainer_group_size", {"rank": "0"}) == 1
    assert value("recstream_trainer_group_steps_total", {"rank": "0"}) == 3
    assert value("recstream_trainer_group_collective_seconds_count", {"rank": "0"}) == 3
    assert value("recstream_trainer_group_exchanged_bytes_sum", {"rank": "0"}) == 0
    assert value("recstream_trainer_replica_divergences_total", {"rank": "0"}) == 0


def test_rank_zero_decides_when_every_rank_merges_its_adapters() -> None:
    assert decide([_vote(checkpoint_due=True, consolidate=True), _vote()], {}).consolidate
    assert not decide([_vote(consolidate=True), _vote()], {}).consolidate  # no checkpoint
    assert not decide([_vote(checkpoint_due=True), _vote(consolidate=True)], {}).consolidate
