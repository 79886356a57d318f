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
    # ``rows`` grouped, when whoever built this already sorted them (None: sorted on use)
    groups: RowGroups | None = None

    def select(self, keep: torch.Tensor | slice) -> HistoryBonus:
        """The bonuses of the outputs selected by ``keep`` (a (P,) mask, indices or a slice)."""
        groups = self.groups.select(keep) if self.groups is not None else None
        return HistoryBonus(self.logits[keep], self.rows[keep], groups)

    @staticmethod
    def cat(parts: list[HistoryBonus]) -> HistoryBonus:
        """The outputs of ``parts``, one after another (all of the same width)."""
        groups = None
        if all(p.groups is not None for p in parts):
            groups = RowGroups.cat([p.groups for p in parts if p.groups is not None])
        return HistoryBonus(torch.cat([p.logits for p in parts]),
                            torch.cat([p.rows for p in parts]), groups)  # fmt: skip

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
        """(P, L) bonus of the row at each position, and a mask of first occurrences.

        By sorting each output's rows: O(P x L log L). Comparing every position with
        every other was O(P x L^2), and with the transition successors merged in (L up
        to 50 history items plus 3 x the successors kept per item) it was a tenth of a
        step (bench/NOTES.md, issue 20, fifth session)."""
        groups = self.groups if self.groups is not None else RowGroups.of(self.rows)
        bonus = groups.spread(groups.reduce(self.logits, "amax"))
        return bonus, groups.first & torch.isfinite(bonus)

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


@dataclass(frozen=True)
class RowGroups:
    """The positions of each output (row of a (P, K) tensor of item rows) grouped by
    item row: a stable sort, so a group's first member is the row's first occurrence."""

    order: torch.Tensor  # (P, K) positions in sorted order
    group: torch.Tensor  # (P, K) group of each sorted position, 0, 1, ... per output
    first: torch.Tensor  # (P, K) bool, in position order: the row's first occurrence

    @staticmethod
    def of(rows: torch.Tensor) -> RowGroups:
        ordered, order = torch.sort(rows, dim=1, stable=True)
        starts = torch.ones_like(ordered, dtype=torch.bool)
        starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        group = starts.long().cumsum(1) - 1
        first = torch.zeros_like(starts).scatter_(1, order, starts)
        return RowGroups(order, group, first)

    def select(self, keep: torch.Tensor | slice) -> RowGroups:
        """The groups of the outputs selected by ``keep`` (as :meth:`HistoryBonus.select`)."""
        return RowGroups(self.order[keep], self.group[keep], self.first[keep])

    @staticmethod
    def cat(parts: list[RowGroups]) -> RowGroups:
        return RowGroups(torch.cat([p.order for p in parts]), torch.cat([p.group for p in parts]),
                         torch.cat([p.first for p in parts]))  # fmt: skip

    def reduce(self, values: torch.Tensor, how: str) -> torch.Tensor:
        """(P, K) values per position -> (P, K) per group ("amax" or "sum"; unused
        groups hold -inf or 0)."""
        empty = float("-inf") if how == "amax" else 0.0
        start = torch.full_like(values, empty)
        return start.scatter_reduce(1, self.group, values.gather(1, self.order), reduce=how)

    def spread(self, per_group: torch.Tensor) -> torch.Tensor:
        """(P, K) values per group -> (P, K) the value of each position's group."""
        in_sorted = per_group.gather(1, self.group)
        return torch.empty_like(in_sorted).scatter(1, self.order, in_sorted)


def add_bonus(base: torch.Tensor, bonus: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """base + weight * bonus where a bonus exists."""
    return torch.where(torch.isfinite(bonus), base + weight * bonus, base)
