"""What the ranks of a trainer group decide together after every step: whether to
checkpoint (rank 0 writes, with every rank's resume offsets), whether to roll back (any
rank's quality watch or guard may ask; all restore the same checkpoint), whether the
replicas still agree, and whether the next step starts at once (some rank has work) or
on the group's clock. Each rank votes; every rank computes the same decision from the
same votes, so no rank acts alone on the shared model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vote:
    rollback: str | None  # this rank's reason to roll back now
    checkpoint_due: bool
    offsets: dict[int, int]  # per partition this rank reads: where resuming loses nothing
    published_version: int  # the highest model version this rank published
    last_good_version: int | None  # the newest good checkpoint (rank 0 writes them)
    fingerprint: int | None  # of this replica, on the steps that compare them
    busy: bool = False  # updates or queued sequences wait on this rank
    consolidate: bool = False  # rank 0: merge the adapters before this checkpoint


@dataclass(frozen=True)
class Decision:
    rollback: str | None
    checkpoint: bool
    offsets: dict[int, int]  # of the whole group, for rank 0's checkpoint manifest
    published_version: int
    last_good_version: int | None
    diverged: bool  # two replicas' fingerprints differ
    busy: bool = False  # some rank has work waiting: every rank steps again at once
    consolidate: bool = False  # every rank merges its adapters before the checkpoint


def merge_offsets(reports: list[dict[int, int]], carried: dict[int, int]) -> dict[int, int]:
    """The group's resume offsets: per partition the lowest any rank reports (a partition
    that moved between ranks is safe from the lower one), and for partitions no rank
    reports (no traffic since the group started, or just moved) the last known offset."""
    merged = dict(carried)
    reported: dict[int, int] = {}
    for offsets in reports:
        for partition, offset in offsets.items():
            reported[partition] = min(offset, reported.get(partition, offset))
    return merged | reported


def decide(votes: list[Vote], carried: dict[int, int]) -> Decision:
    """The group's decision from every rank's vote (``votes[0]`` is rank 0's)."""
    reasons = [vote.rollback for vote in votes if vote.rollback is not None]
    prints = {vote.fingerprint for vote in votes if vote.fingerprint is not None}
    return Decision(
        rollback=reasons[0] if reasons else None,
        checkpoint=votes[0].checkpoint_due,
        offsets=merge_offsets([vote.offsets for vote in votes], carried),
        published_version=max(vote.published_version for vote in votes),
        last_good_version=votes[0].last_good_version,
        diverged=len(prints) > 1,
        busy=any(vote.busy for vote in votes),
        consolidate=votes[0].checkpoint_due and votes[0].consolidate,
    )
