"""Raw item ids -> embedding rows, without hashing collisions, growing as items appear.

Rows 0..2 are reserved (padding, the shared "unknown" row, and the start-of-sequence
row) and are never recommended. An id gets a row of its own after ``min_count``
sightings (admission); until then it maps to the unknown row. Ids not seen for
``evict_after_s`` can be evicted, and their rows are reused by later ids. The
embedding tables are sized by :attr:`capacity`, which doubles when full, so growth
copies the table O(log n) times in total (amortised O(1) per new item).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PAD, UNK, BOS = 0, 1, 2
RESERVED = 3


@dataclass(frozen=True)
class VocabularyConfig:
    min_count: int = 1  # sightings before an id gets its own row
    evict_after_s: float | None = None  # None: never evict
    initial_capacity: int = 1_024
    # Input decides which ids exist, so it must not decide how much memory the tables
    # take: beyond this many items, new ids stay on the unknown row until eviction
    # frees rows (None: no limit).
    max_items: int | None = None


class ItemVocabulary:
    def __init__(self, config: VocabularyConfig = VocabularyConfig()) -> None:
        self.config = config
        self.row_of: dict[str, int] = {}
        self.id_of: list[str | None] = [None] * RESERVED
        self.last_seen: dict[str, float] = {}
        self.pending: dict[str, int] = {}  # sightings of ids not yet admitted
        self.free_rows: list[int] = []
        # 1 per row that holds an item, kept as rows are admitted and freed: the ranking
        # mask is a copy of it, where building it from the live rows each step cost ~3 ms.
        self.live_flags = bytearray(RESERVED)
        self.capacity = max(config.initial_capacity, RESERVED + 1)
        self.revision = 0  # bumped on every admission or eviction (for caches of live rows)
        self.refused = 0  # admissions refused because the vocabulary was full

    def __len__(self) -> int:
        """Items with a row of their own."""
        return len(self.row_of)

    @property
    def num_rows(self) -> int:
        """Rows in use or freed (the highest row + 1): tables need at least this many."""
        return len(self.id_of)

    def lookup(self, item_ids: Sequence[str]) -> list[int]:
        """Rows for ``item_ids`` without changing anything (unknown ids -> UNK)."""
        row_of = self.row_of
        return [row_of.get(item, UNK) for item in item_ids]

    def observe(self, item_ids: Iterable[str], now: float) -> list[str]:
        """Count sightings and admit ids that reached ``min_count``; returns admitted ids."""
        admitted = []
        for item in item_ids:
            if item in self.row_of:
                self.last_seen[item] = now
                continue
            if self.full:
                self.refused += 1
                continue
            seen = self.pending.get(item, 0) + 1
            if seen >= self.config.min_count:
                self.pending.pop(item, None)
                self._admit(item)
                self.last_seen[item] = now
                admitted.append(item)
            else:
                self.pending[item] = seen
        return admitted

    def admit(self, item_ids: Iterable[str], now: float) -> list[str]:
        """Give ``item_ids`` rows now, whatever their sightings (the catalogue says they
        exist); returns the ids that were not admitted before."""
        admitted = []
        for item in item_ids:
            if item not in self.row_of:
                if self.full:
                    self.refused += 1
                    continue
                self.pending.pop(item, None)
                self._admit(item)
                admitted.append(item)
            self.last_seen[item] = now
        return admitted

    @property
    def full(self) -> bool:
        limit = self.config.max_items
        return limit is not None and len(self.row_of) >= limit

    def _admit(self, item: str) -> int:
        if self.free_rows:
            row = self.free_rows.pop()
            self.id_of[row] = item
            self.live_flags[row] = 1
        else:
            row = len(self.id_of)
            self.id_of.append(item)
            self.live_flags.append(1)
            while row >= self.capacity:
                self.capacity *= 2
        self.row_of[item] = row
        self.revision += 1
        return row

    def evict_stale(self, now: float) -> list[int]:
        """Free the rows of ids not seen for ``evict_after_s``; returns the freed rows."""
        horizon = self.config.evict_after_s
        if horizon is None:
            return []
        stale = [item for item, seen in self.last_seen.items() if now - seen > horizon]
        freed = []
        for item in stale:
            row = self.row_of.pop(item)
            del self.last_seen[item]
            self.id_of[row] = None
            self.live_flags[row] = 0
            self.free_rows.append(row)
            freed.append(row)
        self.revision += len(freed)
        return freed

    def item_at(self, row: int) -> str | None:
        return self.id_of[row] if 0 <= row < len(self.id_of) else None

    def live_rows(self) -> list[int]:
        return sorted(self.row_of.values())

    # -- state (JSON) -------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "config": {
                "min_count": self.config.min_count,
                "evict_after_s": self.config.evict_after_s,
                "initial_capacity": self.config.initial_capacity,
                "max_items": self.config.max_items,
            },
            "id_of": self.id_of,
            "last_seen": self.last_seen,
            "pending": self.pending,
            "free_rows": self.free_rows,
            "capacity": self.capacity,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ItemVocabulary:
        vocab = cls(VocabularyConfig(**state["config"]))
        vocab.id_of = list(state["id_of"])
        vocab.row_of = {item: row for row, item in enumerate(vocab.id_of) if item is not None}
        vocab.live_flags = bytearray(item is not None for item in vocab.id_of)
        vocab.last_seen = {k: float(v) for k, v in state["last_seen"].items()}
        vocab.pending = {k: int(v) for k, v in state["pending"].items()}
        vocab.free_rows = [int(r) for r in state["free_rows"]]
        vocab.capacity = int(state["capacity"])
        return vocab
