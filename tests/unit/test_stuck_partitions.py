"""Re-reading partitions a rebalance left read to the end but never processed."""

from __future__ import annotations

from stream.kafka.group_lag import PartitionOffsets
from stream.kafka.stuck_partitions import StuckPartitions

TP = ("events.click", 0)


def _observe(detector: StuckPartitions, now: float, committed: int | None, end: int,
             position: int | None, idle: bool = True, start: int = 0
             ) -> dict[tuple[str, int], int]:  # fmt: skip
    return detector.observe({TP: PartitionOffsets(start, committed, end)}, {TP: position},
                            now, idle)  # fmt: skip


def test_an_idle_worker_holding_an_uncommitted_partition_read_to_its_end_re_reads_it() -> None:
    detector = StuckPartitions(min_stuck_s=60)
    assert _observe(detector, 0, None, 2123, 2123, start=5) == {}
    assert _observe(detector, 30, None, 2123, 2123, start=5) == {}
    assert _observe(detector, 60, None, 2123, 2123, start=5) == {TP: 5}
    assert _observe(detector, 70, None, 2123, 2123, start=5) == {}  # the clock starts again


def test_a_committed_partition_is_re_read_from_its_committed_offset() -> None:
    detector = StuckPartitions(min_stuck_s=10)
    _observe(detector, 0, 700, 900, 900)
    assert _observe(detector, 10, 700, 900, 900) == {TP: 700}


def test_a_busy_worker_is_never_judged() -> None:
    detector = StuckPartitions(min_stuck_s=10)
    _observe(detector, 0, 700, 900, 900)
    assert _observe(detector, 20, 700, 900, 900, idle=False) == {}
    assert _observe(detector, 25, 700, 900, 900) == {}  # idle again: a new clock
    assert _observe(detector, 35, 700, 900, 900) == {TP: 700}


def test_progress_or_a_position_behind_the_end_is_not_stuck() -> None:
    detector = StuckPartitions(min_stuck_s=10)
    _observe(detector, 0, 700, 900, 900)
    assert _observe(detector, 10, 800, 900, 900) == {}  # the commit moved
    assert _observe(detector, 15, 800, 900, 850) == {}  # still fetching
    assert _observe(detector, 20, 800, 900, 900) == {}  # a new clock starts here
    assert _observe(detector, 29, 800, 900, 900) == {}
    assert _observe(detector, 30, 900, 900, 900) == {}  # no lag at all


def test_unknown_positions_and_revoked_partitions_are_forgotten() -> None:
    detector = StuckPartitions(min_stuck_s=10)
    _observe(detector, 0, None, 10, 10)
    assert detector.observe({TP: PartitionOffsets(0, None, 10)}, {}, 5, True) == {}  # revoked
    assert _observe(detector, 10, None, 10, None) == {}  # position not known yet
    assert _observe(detector, 11, None, 10, 10) == {}  # a fresh clock
    assert _observe(detector, 21, None, 10, 10) == {TP: 0}
