"""Which offsets of the sequences topic a checkpoint's model has learned.

A step learns users, not offset ranges: updates of users still waiting sit between
learned ones. The safe resume point of a partition is therefore its lowest offset
not yet learned (read and waiting, or never read): every update before it is in
the model, and everything from it on is read again after a restore. Learning an
update twice is harmless; skipping one is not.
"""

from __future__ import annotations

from collections import Counter


class OffsetTracker:
    def __init__(self, resume_from: dict[int, int] | None = None) -> None:
        self._next: dict[int, int] = dict(resume_from or {})  # past the highest learned
        self._waiting: dict[int, Counter[int]] = {}

    def read(self, partition: int, offset: int) -> None:
        self._waiting.setdefault(partition, Counter())[offset] += 1

    def learned(self, partition: int, offset: int) -> None:
        waiting = self._waiting.get(partition)
        if waiting is not None and waiting[offset] > 0:
            waiting[offset] -= 1
            if waiting[offset] == 0:
                del waiting[offset]
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def safe(self) -> dict[int, int]:
        """Per partition: resume here and nothing learned before it is missing."""
        out = dict(self._next)
        for partition, waiting in self._waiting.items():
            if waiting:
                out[partition] = min(min(waiting), out.get(partition, min(waiting)))
        return out

    def forget(self, partitions: set[int]) -> None:
        """Stop reporting ``partitions`` (they moved to another reader)."""
        for partition in partitions:
            self._next.pop(partition, None)
            self._waiting.pop(partition, None)
