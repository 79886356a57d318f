"""Add the repeat head's bonus to candidate scores, for losses and for ranking.

A history item's bonus is the largest repeat logit among its positions; items not in
the history get none. Shapes: P outputs, L history positions, C candidates, N rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HistoryBonus:
    logits: torch.Tensor  # (P, L) repeat logits, -inf where a position may not be repeated
    rows: torch.Tensor  # (P, L) the rows at those positions

    def select(self, keep: torch.Tensor | slice) -> HistoryBonus:
        """The bonuses of the outputs selected by ``keep`` (a (P,) mask, indices or a slice)."""
        return HistoryBonus(self.logits[keep], self.rows[keep])

    def per_candidate(self, candidates: torch.Tensor, num_rows: int) -> torch.Tensor:
        """(C,) candidate rows -> (P, C) bonus, -inf where the candidate is not in the history.

        Costs O(P x (L + C)): history rows are looked up among the distinct candidates
        by binary search, never compared against every candidate.
        """
        del num_rows  # kept for callers that think in table rows
        distinct, inverse = torch.unique(candidates, return_inverse=True)  # sorted (U,)
        slot = torch.searchsorted(distinct, self.rows).clamp(max=distinct.shape[0] - 1)  # (P, L)
        found = (distinct[slot] == self.rows) & torch.isfinite(self.logits)
        bonus = torch.full((self.rows.shape[0], distinct.shape[0]), float("-inf"),
                           device=self.rows.device, dtype=self.logits.dtype)  # fmt: skip
        values = self.logits.masked_fill(~found, float("-inf"))
        bonus = bonus.scatter_reduce(1, slot, values, reduce="amax")
        return bonus[:, inverse]

    def per_history_row(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(P, L) bonus of the row at each position, and a mask of first occurrences."""
        same = self.rows.unsqueeze(2) == self.rows.unsqueeze(1)  # (P, L, L)
        bonus = torch.where(same, self.logits.unsqueeze(1), float("-inf")).amax(-1)
        earlier = torch.tril(torch.ones_like(same[0]), diagonal=-1)  # j' < j
        first = ~(same & earlier).any(-1) & torch.isfinite(bonus)
        return bonus, first

    def add_to_sorted(
        self, base: torch.Tensor, candidates: torch.Tensor, weight: float = 1.0
    ) -> torch.Tensor:
        """(P, C) scores of sorted, distinct candidate rows -> the same plus each history bonus.

        Equal to ``add_bonus(base, self.per_candidate(candidates), weight)`` at
        O(P x L log C) on top of ``base``: the full-softmax loss used to build, gather and
        mask a dense (P, N) bonus, forward and backward, which was a third of a CPU
        training step. History rows that are not candidates get nothing.
        """
        bonus, first = self.per_history_row()
        slot = torch.searchsorted(candidates, self.rows).clamp(max=candidates.shape[0] - 1)
        once = first & (candidates[slot] == self.rows)  # once per candidate row
        values = torch.where(once, weight * bonus, torch.zeros_like(bonus))
        return base.scatter_add(1, slot, values.to(base.dtype))


def add_bonus(base: torch.Tensor, bonus: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """base + weight * bonus where a bonus exists."""
    return torch.where(torch.isfinite(bonus), base + weight * bonus, base)
