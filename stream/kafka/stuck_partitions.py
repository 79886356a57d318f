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

from stream.kafka.group_lag import PartitionOffsets

Partition = tuple[str, int]


@dataclass
class StuckPartitions:
    """Tracks, per partition, since when it has looked stuck while the worker was idle.

    Busy workers are never judged: committed offsets move in steps (Faust commits every
    few seconds) and a position at the log end with a commit behind is normal while the
    last batch is processed. Only a worker that processed nothing for ``min_stuck_s``
    while holding a partition read to its end and not committed is stuck.
    """

    min_stuck_s: float = 60.0
    _since: dict[Partition, tuple[int, float]] = field(default_factory=dict)  # done, since

    def observe(
        self,
        offsets: dict[Partition, PartitionOffsets],
        positions: dict[Partition, int | None],
        now: float,
        idle: bool,
    ) -> dict[Partition, int]:
        """Partitions to re-read -> the offset to re-read from.

        ``positions`` are the worker's fetch positions of the partitions it is assigned;
        ``idle``: the worker processed nothing since the previous observation.
        """
        if not idle:
            self._since.clear()
            return {}
        rewind: dict[Partition, int] = {}
        for tp, position in positions.items():
            known = offsets.get(tp)
            if known is None or position is None or known.lag == 0 or position < known.end:
                self._since.pop(tp, None)
                continue
            done, since = self._since.get(tp, (known.done, now))
            if done != known.done:
                done, since = known.done, now
            if now - since >= self.min_stuck_s:
                rewind[tp] = known.done
                self._since.pop(tp, None)
            else:
                self._since[tp] = (done, since)
        for tp in list(self._since):
            if tp not in positions:
                del self._since[tp]  # revoked
        return rewind
