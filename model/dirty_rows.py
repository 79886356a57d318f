"""Which item rows changed since the last checkpoint, by kind of row state, so that a
delta stores each row-indexed tensor only at the rows where it changed.

A row's state is four kinds that change for different reasons:

- ``embeddings``: its row of the item table (a full-mode step that moved it, a reset, a
  merge of the item codes);
- ``weights``: what the sparse optimiser moves and its moments (the table row in full
  mode, the row's codes in adapters mode: model/item_codes.py), and its content vector;
- ``counts``: its sightings, event count and fading sightings (every event of the item);
- ``transitions``: its list of successors (an event that followed it), kept per slot.

With one mask for all, a row whose count or successor list changed also stored its 64
floats and their two moments (768 bytes on top of 20 or 256). On Taobao, 50 steps apart,
3,709 of the 19,426 rows a delta held were such rows, and the delta went from 22.9 to
18.8 MB (bench/NOTES.md, "Delta checkpoints by kind of row state"). A successor list
changes one slot of 32 per counted pair, so a delta stores the changed slots, 8 bytes and
an index each, not the list's 256 bytes.
"""

from __future__ import annotations

import torch

EMBEDDINGS, WEIGHTS, COUNTS, TRANSITIONS = "embeddings", "weights", "counts", "transitions"
# The kinds kept as one flag per row; successor lists are kept per slot (their rows follow).
ROW_KINDS = (EMBEDDINGS, WEIGHTS, COUNTS)
# A delta's index for the successor lists: flat slots of the (rows, width) tensors.
TRANSITION_SLOTS = "transition_slots"


def kind_of(key: str) -> str:
    """The kind of a row-indexed state tensor, by its name in the learner's state."""
    if key == "model.item_embeddings":
        return EMBEDDINGS
    if key in ("counts", "events") or key.startswith("recent."):
        return COUNTS
    if key.startswith("transitions."):
        return TRANSITION_SLOTS
    return WEIGHTS  # the codes, the sparse moments (sparse.*) and content vectors (content.*)


class DirtyRows:
    def __init__(
        self, rows: int, device: torch.device | str, dirty: bool = True, slots: int = 0
    ) -> None:
        """``dirty``: whether every row starts changed (a new learner: nothing written
        yet); ``slots``: the successor lists' width (0: none kept)."""
        self.masks = {kind: torch.full((rows,), dirty, dtype=torch.bool, device=device)
                      for kind in ROW_KINDS}  # fmt: skip
        # Successor lists live on the CPU (model/transition_table.py).
        self.slots = torch.full((rows, slots), dirty, dtype=torch.bool)

    def mark(self, kind: str, rows: torch.Tensor | list[int]) -> None:
        mask = self.masks[kind]
        if isinstance(rows, list):
            if not rows:
                return
            rows = torch.tensor(rows, device=mask.device)
        mask[rows.to(mask.device)] = True  # indices may come from the CPU

    def mark_slots(self, flat: torch.Tensor) -> None:
        """Changed successor slots, as flat indices of the (rows, width) lists."""
        self.slots.view(-1)[flat] = True

    def mark_all(self, kind: str) -> None:
        """Every row's state of ``kind`` (one of ROW_KINDS) changed."""
        self.masks[kind][:] = True

    def grow(self, added: int) -> None:
        """New rows are zero, as a delta's restore pads a grown table: not changed."""
        for kind, mask in self.masks.items():
            self.masks[kind] = torch.cat([mask, mask.new_zeros(added)])
        self.slots = torch.cat([self.slots, self.slots.new_zeros(added, self.slots.shape[1])])

    def clear(self) -> None:
        for mask in self.masks.values():
            mask.zero_()
        self.slots.zero_()

    def rows(self, kind: str, upto: int) -> torch.Tensor:
        """(R,) int64 on the CPU: the changed rows of ``kind`` below ``upto``, sorted
        (for TRANSITION_SLOTS: the changed flat slots of those rows)."""
        if kind == TRANSITION_SLOTS:
            return torch.nonzero(self.slots[:upto].reshape(-1)).flatten()
        if kind == TRANSITIONS:
            return torch.nonzero(self.slots[:upto].any(1)).flatten()
        return torch.nonzero(self.masks[kind][:upto]).flatten().to("cpu")

    def any_kind(self, upto: int) -> torch.Tensor:
        """(N,) bool on the CPU: rows below ``upto`` changed in any way."""
        masks = [mask[:upto].to("cpu") for mask in self.masks.values()]
        return torch.stack([*masks, self.slots[:upto].any(1)]).any(0)
