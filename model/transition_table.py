"""Item-to-item transitions the model ranks with: per item row, the rows that most often
followed it in users' sequences, with their counts.

An item two steps later counts 1/2, three steps later 1/3 (as the co-occurrence baseline,
model/baselines/cooccurrence.py). Each row keeps ``width`` successors, so memory stays
fixed per row. A successor not in a full list takes the place of the smallest count (the
oldest of equal counts: a list keeps its slots in order of arrival) with its own count.

Not Space-Saving (Metwally, Agrawal, El Abbadi, ICDT 2005), which this table used until
2026-12-03: there the newcomer inherits the count it replaces, which guarantees that a
successor taking more than 1/width of a row's count is kept, but ranks every newcomer
as if it had been seen that often. Where most successors are seen once or twice
(Amazon Beauty: a user's next review), the lists then rank recent one-off successors
as high as true repeats: NDCG@10 of each user's last item ranked by the lists alone
was 0.0355 with Space-Saving, 0.0381 with this rule and 0.0384 with exact counts
(bench/NOTES.md, issue 20, seventh session). The price: a successor that arrives at a
full list must come again before the newcomers after it push it out.

Stored as two row-indexed tensors, so delta checkpoints hold the rows whose lists
changed. Kept on the CPU: a step counts a few hundred pairs one by one (numpy views of
the tensors), and lookups are small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from model.vocabulary import RESERVED


class TransitionTable:
    def __init__(self, rows: int, width: int, distance: int = 3) -> None:
        self.width = width
        self.distance = distance
        self.rows = torch.zeros(rows, width, dtype=torch.int32)  # successor rows (0: empty)
        self.weights = torch.zeros(rows, width, dtype=torch.float32)  # their counts (0: empty)

    def grow(self, rows: int) -> None:
        added = rows - self.rows.shape[0]
        if added > 0:
            self.rows = torch.cat([self.rows, self.rows.new_zeros(added, self.width)])
            self.weights = torch.cat([self.weights, self.weights.new_zeros(added, self.width)])

    def add(self, chains: Sequence[tuple[Sequence[int], int]]) -> torch.Tensor:
        """Count the pairs that end on each chain's last ``new`` rows (a chain: up to
        ``distance`` earlier rows, then the new ones). Returns the changed slots, as
        sorted flat indices of the (rows, width) lists. Rows below RESERVED (unknown,
        padding) and repeats of the same row are skipped."""
        successors, counts = self.rows.numpy(), self.weights.numpy()
        changed: set[int] = set()
        for rows, new in chains:
            for i in range(len(rows) - new, len(rows)):
                target = rows[i]
                if target < RESERVED:
                    continue
                for d in range(1, self.distance + 1):
                    if i - d < 0:
                        break
                    source = rows[i - d]
                    if source < RESERVED or source == target:
                        continue
                    for slot in _count(successors[source], counts[source], target, 1.0 / d):
                        changed.add(source * self.width + slot)
        return torch.tensor(sorted(changed), dtype=torch.long)

    def lookup(self, sources: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(...,) rows -> (..., width) successor rows (int64) and counts (0: empty slot)."""
        at = sources.to("cpu")
        return self.rows[at].long(), self.weights[at]

    def clear(self, rows: Sequence[int]) -> torch.Tensor:
        """Forget ``rows`` (items evicted; the rows will hold other items): their own lists,
        and their places in every other list. Returns the changed slots (flat indices)."""
        if not rows:
            return torch.empty(0, dtype=torch.long)
        gone = torch.tensor(rows, dtype=torch.int32)
        changed = torch.isin(self.rows, gone) & (self.weights > 0)
        changed[gone.long()] = True
        self.rows[changed] = 0
        self.weights[changed] = 0
        return changed.view(-1).nonzero().squeeze(1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"transitions.rows": self.rows, "transitions.weights": self.weights}

    def load_state_dict(self, state: dict[str, torch.Tensor], rows: int) -> None:
        """From a checkpoint (one from before transitions starts empty)."""
        if "transitions.rows" in state:
            self.rows = state["transitions.rows"].to("cpu", torch.int32).clone()
            self.weights = state["transitions.weights"].to("cpu", torch.float32).clone()
            self.width = self.rows.shape[1]  # the checkpoint's: its lists as they were
        else:
            self.rows = torch.zeros(rows, self.width, dtype=torch.int32)
            self.weights = torch.zeros(rows, self.width, dtype=torch.float32)
        self.grow(rows)


def _count(successors: np.ndarray, counts: np.ndarray, target: int, amount: float) -> range:
    """Add to the target's slot, or to the first empty one; in a full list the smallest
    count leaves (the first of equal ones, the oldest), the slots after it move up and the
    target enters last. Returns the slots that changed."""
    hit = np.flatnonzero((successors == target) & (counts > 0))
    if hit.size:
        slot = int(hit[0])
    else:
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            slot = int(empty[0])
            successors[slot] = target
        else:
            slot = int(counts.argmin())
            successors[slot:-1] = successors[slot + 1 :].copy()
            counts[slot:-1] = counts[slot + 1 :].copy()
            successors[-1], counts[-1] = target, 0.0
            counts[-1] += amount
            return range(slot, len(counts))
    counts[slot] += amount
    return range(slot, slot + 1)
