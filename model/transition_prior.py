"""Transitions in the model's ranking: "what usually comes next after what you just did".

The items that followed each of a user's last ``m`` items (model/transition_table.py)
get a bonus w_j x log(1 + count) on top of their model score, w_j a learned weight per
recency j (the training scores carry the bonus too, so on a stream where transitions
say little the weights shrink instead of costing quality). Counts are memorised the
first time a transition is seen, which item vectors in one online pass are not
(bench/NOTES.md, issue 20): on session-style streams most next items that are not
repeats are such transitions.

The bonus joins the repeat head's (model/repeat_bonus.py): one HistoryBonus over the
history rows and the successor rows, where a row's bonus is its repeat bonus (if it is
in the history) plus its transition bonus (if it is a successor), so every ranking and
loss path that handles repeats handles transitions unchanged.
"""

from __future__ import annotations

import torch

from model.repeat_bonus import HistoryBonus, RowGroups
from model.transition_table import TransitionTable
from model.vocabulary import RESERVED


def successor_bonus(
    table: TransitionTable, weights: torch.Tensor, items: torch.Tensor, user: torch.Tensor,
    index: torch.Tensor, fresh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Successors of each output's last ``len(weights)`` input items (output p reads
    items[user[p], :index[p] + 1]; position 0 is the start token): (P, M) rows, their
    bonus and a mask of real ones. ``fresh`` (P,) False: no bonus for that output (a
    replayed position, whose own transition is already counted)."""
    recent = weights.shape[0]
    back = torch.arange(recent, device=items.device)
    at = index.unsqueeze(1) - back  # (P, m), newest first
    sources = items[user.unsqueeze(1), at.clamp(min=0)]
    rows, counts = table.lookup(sources)  # (P, m, K)
    rows, counts = rows.to(items.device), counts.to(items.device)
    has = (counts > 0) & (at >= 1).unsqueeze(-1) & (rows >= RESERVED)
    if fresh is not None:
        has &= fresh.view(-1, 1, 1)
    bonus = weights.float().view(1, recent, 1) * torch.log1p(counts)
    return rows.flatten(1), bonus.flatten(1), has.flatten(1)


def with_successors(
    history: HistoryBonus, rows: torch.Tensor, bonus: torch.Tensor, has: torch.Tensor
) -> HistoryBonus:
    """The repeat bonuses (P, L) and successor bonuses (P, M) as one (P, L + M) bonus:
    each row's repeat bonus (its largest, as before) plus the sum of its successor
    bonuses (a row may follow several recent items); -inf where it has neither."""
    every = torch.cat([history.rows, rows], dim=1)  # (P, L + M)
    groups = RowGroups.of(every)  # O((L + M) log(L + M)) per output, not (L + M) x M
    none = torch.full_like(bonus, float("-inf"))
    repeat = groups.spread(groups.reduce(torch.cat([history.logits, none], dim=1), "amax"))
    zeros = torch.zeros_like(history.logits)
    real = torch.where(has, bonus, torch.zeros_like(bonus))
    transition = groups.spread(groups.reduce(torch.cat([zeros, real], dim=1), "sum"))
    follows = torch.cat([torch.zeros_like(history.rows, dtype=torch.bool), has], dim=1)
    followed = groups.spread(groups.reduce(follows.to(bonus.dtype), "amax")) > 0
    repeated = torch.isfinite(repeat)
    total = torch.where(repeated, repeat, torch.zeros_like(repeat)) + transition
    total = total.masked_fill(~(repeated | followed), float("-inf"))
    return HistoryBonus(total, every, groups)  # the grouping, for per_history_row
