"""What each item row is about: a content vector (a text encoder's output) per row.

Row-aligned with the item table, so it grows with it, is reset when a row is reused,
and lands in delta checkpoints row by row like the table itself. A row's content
hash (0: no content) says which text its vector came from: an unchanged record is
neither encoded nor applied again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def content_hash(text: str) -> int:
    """A stable, non-zero 63-bit hash of a content text (blake2b)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1 or 1


class ItemContent:
    def __init__(self, rows: int, dim: int, device: torch.device | str = "cpu") -> None:
        self.dim = dim
        self.vectors = torch.zeros(rows, dim, device=device)  # (N, D)
        self.hashes = torch.zeros(rows, dtype=torch.long, device=device)  # (N,), 0: none
        self.revision = 0  # bumped on every change (for caches of projected vectors)

    @property
    def has(self) -> torch.Tensor:
        """(N,) bool: rows with content."""
        return self.hashes != 0

    def grow(self, rows: int) -> None:
        added = rows - self.hashes.shape[0]
        if added <= 0:
            return
        self.vectors = torch.cat([self.vectors, self.vectors.new_zeros(added, self.dim)])
        self.hashes = torch.cat([self.hashes, self.hashes.new_zeros(added)])

    def set_rows(self, rows: Sequence[int], vectors: torch.Tensor, hashes: Sequence[int]) -> None:
        if not rows:
            return
        index = torch.tensor(list(rows), device=self.hashes.device)
        self.vectors[index] = vectors.to(self.vectors.device, self.vectors.dtype)
        self.hashes[index] = torch.tensor(list(hashes), device=self.hashes.device)
        self.revision += 1

    def clear_rows(self, rows: Sequence[int]) -> None:
        """Rows handed to other items start without content. Rows that had none are left
        alone: every admission clears its rows, and a new revision would make the
        content prior re-code the whole catalogue."""
        if not rows:
            return
        index = torch.tensor(list(rows), device=self.hashes.device)
        if not bool((self.hashes[index] != 0).any()):
            return
        self.vectors[index] = 0
        self.hashes[index] = 0
        self.revision += 1

    def hash_at(self, row: int) -> int:
        return int(self.hashes[row]) if 0 <= row < self.hashes.shape[0] else 0

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"content.vectors": self.vectors, "content.hashes": self.hashes}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        device = self.hashes.device
        self.vectors = state["content.vectors"].to(device)
        self.hashes = state["content.hashes"].to(device)
        self.revision += 1
