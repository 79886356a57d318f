"""Find partitions a worker has read to their end but never processed, and say where
to re-read them from.

Why: in faust-streaming 0.15 with aiokafka, a rebalance can drop records that the
fetcher already handed over: Faust's getmany skips records of partitions that are
not active at that moment (paused for recovery), and aiokafka's position has moved
past them. Faust's "seek to committed" after recovery repairs that, except where the
group has no committed offset yet: aiokafka's ``seek_to_committed`` only seeks when
the committed offset is > 0. Such a partition then sits with its position at the log
end, nothing in flight and its whole backlog as lag, forever (seen in `bench.ingest`'s
two-worker runs; it matches faust-streaming issue #629). Re-reading from the committed
offset is safe: windows de-duplicate by event id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.group_lag import PartitionOffsets

Partition = tuple[str, int]


@dataclass
class StuckPartitions:
    """Counts, per partition, consecutive measurements that look stuck."""

    checks: int = 3  # measurements in a row before a partition counts as stuck
    _seen: dict[Partition, tuple[int, int]] = field(default_factory=dict)  # done, streak

    def observe(
        self, offsets: dict[Partition, PartitionOffsets], positions: dict[Partition, int | None]
    ) -> dict[Partition, int]:
        """Partitions to re-read -> the offset to re-read from.

        ``positions`` are the worker's fetch positions of the partitions it is assigned.
        A partition is stuck when its position is at the log end while the group's
        committed offset is behind and has not moved for ``checks`` measurements.
        """
        rewind: dict[Partition, int] = {}
        for tp, position in positions.items():
            known = offsets.get(tp)
            if known is None or position is None or known.lag == 0 or position < known.end:
                self._seen.pop(tp, None)
                continue
            done, streak = self._seen.get(tp, (known.done, 0))
            streak = streak + 1 if done == known.done else 1
            if streak >= self.checks:
                rewind[tp] = known.done
                self._seen.pop(tp, None)
            else:
                self._seen[tp] = (known.done, streak)
        for tp in list(self._seen):
            if tp not in positions:
                del self._seen[tp]  # revoked
        return rewind
