"""Re-reading partitions a rebalance left read to the end but never processed."""

from __future__ import annotations

from stream.group_lag import PartitionOffsets
from stream.stuck_partitions import StuckPartitions

TP = ("events.click", 0)


def _observe(detector: StuckPartitions, committed: int | None, end: int, position: int | None,
             start: int = 0) -> dict[tuple[str, int], int]:  # fmt: skip
    return detector.observe({TP: PartitionOffsets(start, committed, end)}, {TP: position})


def test_a_partition_read_to_its_end_and_never_committed_is_re_read_from_the_start() -> None:
    detector = StuckPartitions(checks=3)
    assert _observe(detector, None, 2123, 2123, start=5) == {}
    assert _observe(detector, None, 2123, 2123, start=5) == {}
    assert _observe(detector, None, 2123, 2123, start=5) == {TP: 5}
    assert _observe(detector, None, 2123, 2123, start=5) == {}  # the streak starts again


def test_a_committed_partition_is_re_read_from_its_committed_offset() -> None:
    detector = StuckPartitions(checks=2)
    _observe(detector, 700, 900, 900)
    assert _observe(detector, 700, 900, 900) == {TP: 700}


def test_progress_or_a_position_behind_the_end_is_not_stuck() -> None:
    detector = StuckPartitions(checks=2)
    _observe(detector, 700, 900, 900)
    assert _observe(detector, 800, 900, 900) == {}  # the commit moved: work is happening
    assert _observe(detector, 800, 900, 850) == {}  # still fetching
    assert _observe(detector, 800, 900, 900) == {}  # a new streak begins at one
    assert _observe(detector, 900, 900, 900) == {}  # no lag at all


def test_unknown_positions_and_revoked_partitions_are_forgotten() -> None:
    detector = StuckPartitions(checks=2)
    _observe(detector, None, 10, 10)
    assert detector.observe({TP: PartitionOffsets(0, None, 10)}, {}) == {}  # revoked
    assert _observe(detector, None, 10, None) == {}  # position not known yet
    assert _observe(detector, None, 10, 10) == {}  # a fresh streak
    assert _observe(detector, None, 10, 10) == {TP: 0}
