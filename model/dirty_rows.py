"""Which item rows changed since the last checkpoint, by kind of row state, so that a
delta stores each row-indexed tensor only at the rows where it changed.

A row's state is three kinds that change for different reasons:

- ``weights``: its embedding, sparse-Adam moments and content vector (a gradient step
  that moved it, a reset, a content update);
- ``counts``: its sightings, event count and fading sightings (every event of the item);
- ``transitions``: its list of successors (an event that followed it).

With one mask for all three, a row whose count or successor list changed also stored
its 64 floats and their two moments (768 bytes on top of 20 or 256). On Taobao, 50
steps apart, 3,709 of the 19,426 rows a delta held were such rows, and the delta went
from 22.9 to 18.8 MB (bench/NOTES.md, "Delta checkpoints by kind of row state").
"""

from __future__ import annotations

import torch

WEIGHTS, COUNTS, TRANSITIONS = "weights", "counts", "transitions"
KINDS = (WEIGHTS, COUNTS, TRANSITIONS)


def kind_of(key: str) -> str:
    """The kind of a row-indexed state tensor, by its name in the learner's state."""
    if key in ("counts", "events") or key.startswith("recent."):
        return COUNTS
    if key.startswith("transitions."):
        return TRANSITIONS
    return WEIGHTS  # the table, its moments (sparse.*) and content vectors (content.*)


class DirtyRows:
    def __init__(self, rows: int, device: torch.device | str, dirty: bool = True) -> None:
        """``dirty``: whether every row starts changed (a new learner: nothing written yet)."""
        self.masks = {kind: torch.full((rows,), dirty, dtype=torch.bool, device=device)
                      for kind in KINDS}  # fmt: skip

    def mark(self, kind: str, rows: torch.Tensor | list[int]) -> None:
        mask = self.masks[kind]
        if isinstance(rows, list):
            if not rows:
                return
            rows = torch.tensor(rows, device=mask.device)
        mask[rows] = True

    def mark_every_kind(self, rows: torch.Tensor) -> None:
        for kind in KINDS:
            self.mark(kind, rows)

    def mark_all(self, kind: str | None = None) -> None:
        """Every row changed (of ``kind``; None: of every kind)."""
        for each in KINDS if kind is None else (kind,):
            self.masks[each][:] = True

    def grow(self, added: int) -> None:
        """New rows are zero, as a delta's restore pads a grown table: not changed."""
        for kind, mask in self.masks.items():
            self.masks[kind] = torch.cat([mask, mask.new_zeros(added)])

    def clear(self) -> None:
        for mask in self.masks.values():
            mask.zero_()

    def rows(self, kind: str, upto: int) -> torch.Tensor:
        """(R,) int64 on the CPU: the changed rows of ``kind`` below ``upto``, sorted."""
        return torch.nonzero(self.masks[kind][:upto]).flatten().to("cpu")

    def any_kind(self, upto: int) -> torch.Tensor:
        """(N,) bool: rows below ``upto`` changed in any way."""
        masks = [mask[:upto] for mask in self.masks.values()]
        return torch.stack(masks).any(0)
