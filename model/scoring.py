"""Rank targets and take top-k over the whole catalogue in chunks (no score matrix beyond
one chunk). score(p, row) = queries[p] . table[row], plus ``bonus_weight`` times the
repeat bonus for the rows in p's history.

Chunks are sized by elements (queries x rows), not rows: a chunk of scores that fits
in cache is several times faster to compare and select from than a 100 MB one
(bench/NOTES.md). Every comparison uses the chunk's own matmul values, so a row
is never ranked against a differently rounded copy of its own score.
"""

from __future__ import annotations

import torch

from model.repeat_bonus import HistoryBonus

CHUNK_ELEMENTS = 3 << 20  # scores per chunk (12 MB of float32)


def _chunk_rows(queries: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(queries, 1))


def _mask_bias(valid: torch.Tensor) -> torch.Tensor:
    """0 for valid rows, -inf for the rest: added by the matmul itself (addmm), which is
    cheaper than a separate masking pass over every chunk."""
    return torch.zeros(valid.shape, device=valid.device).masked_fill_(~valid, float("-inf"))


def _in_chunk(rows: torch.Tensor, start: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask of ``rows`` inside [start, end) and their column in the chunk (0 outside)."""
    inside = (rows >= start) & (rows < end)
    return inside, torch.where(inside, rows - start, 0)


def target_ranks(
    queries: torch.Tensor, table: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor,
    history: HistoryBonus | None = None, bonus_weight: float = 1.0,
) -> list[int | None]:  # fmt: skip
    """0-based rank of each target among the other valid rows (None: the target is invalid)."""
    if queries.shape[0] == 0:
        return []
    if history is not None:
        bonus, first = history.per_history_row()
        target_bonus = history.per_candidate(targets, table.shape[0]).diagonal()
        # History rows whose boosted score replaces their base score (not the target).
        swapped = first & valid[history.rows] & (history.rows != targets.unsqueeze(1))
    above = torch.zeros(queries.shape[0], dtype=torch.long, device=queries.device)
    threshold = (queries * table[targets]).sum(-1).float()
    if history is not None:
        threshold = torch.where(
            torch.isfinite(target_bonus), threshold + bonus_weight * target_bonus, threshold
        )
    step = _chunk_rows(queries.shape[0])
    chunks = [(s, min(s + step, table.shape[0])) for s in range(0, table.shape[0], step)]
    limit = threshold.unsqueeze(1)
    bias = _mask_bias(valid)
    queries = queries.float()
    for start, end in chunks:
        scores = torch.addmm(bias[start:end], queries, table[start:end].T.float())
        # The target never outranks itself (its matmul score may round above the threshold).
        inside, column = _in_chunk(targets, start, end)
        above -= (inside & (scores.gather(1, column.unsqueeze(1)).squeeze(1) > threshold)).long()
        if history is not None:
            inside, column = _in_chunk(history.rows, start, end)
            base = scores.gather(1, column)
            boosted = base + bonus_weight * bonus
            counted = inside & swapped
            above += (counted & (boosted > limit)).sum(-1) - (counted & (base > limit)).sum(-1)
        above += scores.gt_(limit).sum(-1).long()  # in place: no second chunk-sized buffer
    ok = valid[targets]
    return [int(r) if good else None for r, good in zip(above.tolist(), ok.tolist(), strict=True)]


def top_k(
    queries: torch.Tensor, table: torch.Tensor, valid: torch.Tensor, k: int,
    exclude: list[list[int]] | None = None, history: HistoryBonus | None = None,
    bonus_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(B, k') scores and rows of the best valid rows, k' = min(k, valid rows); rows left
    out by ``exclude`` come back with score -inf when fewer than k remain."""
    batch, device = queries.shape[0], queries.device
    k = min(k, int(valid.sum()))
    # Rows to take out of each chunk's plain competition: excluded rows, and history
    # rows that come back once, with their bonus, after the scan.
    banned = torch.zeros((batch, 0), dtype=torch.long, device=device)
    if exclude and any(exclude):
        width = max(len(rows) for rows in exclude)
        banned = torch.full((batch, width), -1, dtype=torch.long, device=device)
        for b, rows in enumerate(exclude):
            banned[b, : len(rows)] = torch.tensor(rows, dtype=torch.long, device=device)
    excluded = banned
    if history is not None:
        bonus, first = history.per_history_row()
        banned = torch.cat([banned, torch.where(first, history.rows, -1)], dim=1)
        history_base = torch.full(history.rows.shape, float("-inf"), device=device)
    candidates, candidate_rows = [], []
    bias = _mask_bias(valid)
    queries = queries.float()
    step = _chunk_rows(batch)
    for start in range(0, table.shape[0], step):
        end = min(start + step, table.shape[0])
        scores = torch.addmm(bias[start:end], queries, table[start:end].T.float())
        if history is not None:
            inside, column = _in_chunk(history.rows, start, end)
            history_base = torch.where(inside, scores.gather(1, column), history_base)
        if banned.shape[1]:
            inside, column = _in_chunk(banned, start, end)
            # amin with +inf outside the chunk leaves those columns as they are.
            marks = torch.where(inside, float("-inf"), float("inf"))
            scores.scatter_reduce_(1, column, marks, reduce="amin")
        s, r = scores.topk(min(k, end - start), dim=-1, sorted=False)
        candidates.append(s)
        candidate_rows.append(r + start)
    if history is not None:
        allowed = first & torch.isfinite(history_base)  # valid rows have finite base scores
        if excluded.shape[1]:
            allowed &= ~(history.rows.unsqueeze(2) == excluded.unsqueeze(1)).any(-1)
        boosted = (history_base + bonus_weight * bonus).masked_fill(~allowed, float("-inf"))
        candidates.append(boosted)
        candidate_rows.append(history.rows)
    pooled = torch.cat(candidates, dim=1)
    pooled_rows = torch.cat(candidate_rows, dim=1)
    best, order = pooled.topk(min(k, pooled.shape[1]), dim=-1)
    return best, pooled_rows.gather(1, order)
