"""Low-rank online updates of the item rows in ``adapters`` mode (a LoRA of the item table).

Under adapters the item table is the largest thing that learns: a moved row costs its 64
floats and two Adam moments, 768 bytes, in every delta checkpoint, and on a 1M-item
catalogue those rows made 6.6 % of a full snapshot at the default cadence (bench/NOTES.md,
"Delta checkpoints by kind of row state"). With codes, an item's vector is its frozen
backbone row plus ``codes[row] @ projection``: the row learns ``rank`` floats (and their
moments) in a subspace the shared ``projection`` spans, and the projection learns with
the dense weights. At rank 8 a moved row costs 96 bytes. This is LoRA's product applied
to an embedding (Hu et al. 2021, section 4.2; peft's ``lora.Embedding`` is the same
product), written here because our table grows with the vocabulary and learns through
SparseAdam, which peft's dense A matrix over the whole table would not.

Codes start at zero, so attaching them changes nothing the model computes. Merging adds
``codes @ projection`` into the table and zeroes the codes (consolidation, as the
decoder's adapters are merged); the projection is kept, as LoRA's A is.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Fixed, so that replicas of a trainer group (and a learner rebuilt from a checkpoint
# before its state loads) draw the same projection without sharing a generator.
PROJECTION_SEED = 20_261_203


class ItemCodes(nn.Module):
    def __init__(self, rows: int, rank: int, hidden: int) -> None:
        super().__init__()
        self.codes = nn.Parameter(torch.zeros(rows, rank))
        generator = torch.Generator().manual_seed(PROJECTION_SEED)
        # Entries of variance 1/rank: a step of size lr on every code moves each of the
        # row's hidden dimensions by about lr, as a step on the full row would.
        self.projection = nn.Parameter(
            torch.randn(rank, hidden, generator=generator) / math.sqrt(rank)
        )

    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        """(...,) rows -> (..., H) learned offsets, with a sparse gradient on the codes."""
        codes = F.embedding(rows, self.codes, sparse=True)
        offsets: torch.Tensor = codes @ self.projection
        return offsets

    @torch.no_grad()
    def offsets(self, rows: torch.Tensor | slice) -> torch.Tensor:
        """The offsets of ``rows`` without a gradient."""
        return self.codes[rows] @ self.projection

    def grow(self, rows: int) -> None:
        old = self.codes.data
        if rows > old.shape[0]:
            self.codes = nn.Parameter(
                torch.cat([old, old.new_zeros(rows - old.shape[0], old.shape[1])])
            )

    @torch.no_grad()
    def merge_into(self, table: torch.Tensor) -> torch.Tensor:
        """Add every row's offset into ``table`` and zero its codes. Returns the rows that
        changed (those with a non-zero code)."""
        moved = self.codes.detach().ne(0).any(1).nonzero().squeeze(1)
        if moved.numel():
            table[moved] += self.codes[moved] @ self.projection
            self.codes[moved] = 0
        return moved
