"""Rank targets and take top-k over the whole catalogue in chunks (no score matrix beyond
one chunk). score(p, row) = queries[p] . table[row], plus ``bonus_weight`` times the
repeat bonus for the rows in p's history."""

from __future__ import annotations

import torch

from model.repeat_bonus import HistoryBonus

CHUNK_ROWS = 65_536


def _history_scores(
    queries: torch.Tensor, table: torch.Tensor, history: HistoryBonus, weight: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(P, L) base and boosted scores of history rows, and the first-occurrence mask."""
    bonus, first = history.per_history_row()
    base = (queries.unsqueeze(1) * table[history.rows]).sum(-1)
    boosted = torch.where(first, base + weight * bonus, base)
    return base, boosted, first


def target_ranks(
    queries: torch.Tensor, table: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor,
    history: HistoryBonus | None = None, bonus_weight: float = 1.0,
) -> list[int | None]:  # fmt: skip
    """0-based rank of each target among valid rows (None when the target row is invalid)."""
    if queries.shape[0] == 0:
        return []
    target_scores = (queries * table[targets]).sum(-1)  # (P,)
    if history is not None:
        bonus = history.per_candidate(targets, table.shape[0]).diagonal()
        target_scores = torch.where(torch.isfinite(bonus), target_scores + bonus_weight * bonus,
                                    target_scores)  # fmt: skip
    threshold = target_scores.unsqueeze(1)
    above = torch.zeros(queries.shape[0], dtype=torch.long, device=queries.device)
    for start in range(0, table.shape[0], CHUNK_ROWS):
        scores = queries @ table[start : start + CHUNK_ROWS].T  # (P, chunk)
        above += ((scores > threshold) & valid[start : start + CHUNK_ROWS]).sum(-1)
    if history is not None:
        # Swap the base scores of (distinct, valid, non-target) history rows for boosted ones.
        base, boosted, first = _history_scores(queries, table, history, bonus_weight)
        counted = first & valid[history.rows] & (history.rows != targets.unsqueeze(1))
        above += ((boosted > threshold) & counted).sum(-1) - ((base > threshold) & counted).sum(-1)
    ok = valid[targets]
    return [int(r) if good else None for r, good in zip(above.tolist(), ok.tolist(), strict=True)]


def top_k(
    queries: torch.Tensor, table: torch.Tensor, valid: torch.Tensor, k: int,
    exclude: list[list[int]] | None = None, history: HistoryBonus | None = None,
    bonus_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(B, k') scores and rows of the best valid rows, k' = min(k, valid rows); rows left
    out by ``exclude`` come back with score -inf when fewer than k remain."""
    k = min(k, int(valid.sum()))
    allowed = valid.unsqueeze(0).expand(queries.shape[0], -1)
    if exclude and any(exclude):
        allowed = allowed.clone()
        for b, rows in enumerate(exclude):
            if rows:
                allowed[b, rows] = False
    width = k + (history.rows.shape[1] if history is not None else 0)
    best_scores = torch.full((queries.shape[0], 0), float("-inf"), device=queries.device)
    best_rows = torch.zeros((queries.shape[0], 0), dtype=torch.long, device=queries.device)
    for start in range(0, table.shape[0], CHUNK_ROWS):
        scores = (queries @ table[start : start + CHUNK_ROWS].T).float()
        scores = scores.masked_fill(~allowed[:, start : start + CHUNK_ROWS], float("-inf"))
        s, r = scores.topk(min(width, scores.shape[1]), dim=-1)
        merged_scores = torch.cat([best_scores, s], dim=1)
        merged_rows = torch.cat([best_rows, r + start], dim=1)
        best_scores, order = merged_scores.topk(min(width, merged_scores.shape[1]), dim=-1)
        best_rows = merged_rows.gather(1, order)
    if history is not None:
        # History rows compete with their boosted score; drop their base-score copies.
        _base, boosted, first = _history_scores(queries, table, history, bonus_weight)
        keep = first & allowed.gather(1, history.rows)
        in_history = (best_rows.unsqueeze(2) == history.rows.unsqueeze(1)).any(-1)
        best_scores = best_scores.masked_fill(in_history, float("-inf"))
        best_scores = torch.cat([best_scores, boosted.masked_fill(~keep, float("-inf"))], dim=1)
        best_rows = torch.cat([best_rows, history.rows], dim=1)
    best_scores, order = best_scores.topk(min(k, best_scores.shape[1]), dim=-1)
    return best_scores, best_rows.gather(1, order)
