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
TOPK_BLOCK = 32  # columns per block in the block-maximum pre-selection of top-k


def _chunk_rows(queries: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(queries, 1))


def _invalid_columns(valid: torch.Tensor) -> torch.Tensor:
    """Indices of the invalid rows (reserved, evicted: usually a handful)."""
    return (~valid).nonzero().squeeze(1)


def _chunk_scores(
    queries: torch.Tensor, table: torch.Tensor, invalid: torch.Tensor, start: int, end: int
) -> torch.Tensor:
    """(B, end - start) scores of a chunk of rows, -inf on invalid rows: a plain matrix
    product and a fill of the few invalid columns. Adding a 0/-inf row bias inside the
    product (addmm) copies the bias into every output row first, 20-30 % of its time."""
    scores = queries @ table[start:end].T.float()
    inside = invalid[(invalid >= start) & (invalid < end)] - start
    return scores.index_fill_(1, inside, float("-inf")) if inside.numel() else scores


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
    invalid = _invalid_columns(valid)
    queries = queries.float()
    for start, end in chunks:
        scores = _chunk_scores(queries, table, invalid, start, end)
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


def _chunk_top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of each row of a (B, n) chunk, unsorted: (scores, columns).

    A plain ``topk`` over the chunk was about half of the ranking's time, so the columns
    are cut into blocks of TOPK_BLOCK and only the k blocks with the largest maxima are
    searched (1.4-1.9x faster at 50-200 queries, bench/NOTES.md). Exact: a score in the
    top k has at most k - 1 scores above it, so at most k - 1 other blocks have a larger
    maximum than its own block.
    """
    batch, width = scores.shape
    blocks = width // TOPK_BLOCK
    if blocks <= 2 * k:  # too few blocks to leave many out
        return scores.topk(min(k, width), dim=-1, sorted=False)
    full = blocks * TOPK_BLOCK
    tiles = scores[:, :full].view(batch, blocks, TOPK_BLOCK)
    best_blocks = tiles.amax(-1).topk(k, dim=-1, sorted=False).indices  # (B, k)
    picked = tiles.gather(1, best_blocks.unsqueeze(-1).expand(batch, k, TOPK_BLOCK))
    offsets = torch.arange(TOPK_BLOCK, device=scores.device)
    columns = (best_blocks.unsqueeze(-1) * TOPK_BLOCK + offsets).reshape(batch, -1)
    pool = picked.reshape(batch, -1)
    if full < width:  # the columns after the last whole block compete directly
        tail = torch.arange(full, width, device=scores.device).expand(batch, -1)
        pool = torch.cat([pool, scores[:, full:]], dim=1)
        columns = torch.cat([columns, tail], dim=1)
    s, at = pool.topk(k, dim=-1, sorted=False)
    return s, columns.gather(1, at)


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
    invalid = _invalid_columns(valid)
    queries = queries.float()
    step = _chunk_rows(batch)
    for start in range(0, table.shape[0], step):
        end = min(start + step, table.shape[0])
        scores = _chunk_scores(queries, table, invalid, start, end)
        if history is not None:
            inside, column = _in_chunk(history.rows, start, end)
            history_base = torch.where(inside, scores.gather(1, column), history_base)
        if banned.shape[1]:
            inside, column = _in_chunk(banned, start, end)
            # amin with +inf outside the chunk leaves those columns as they are.
            marks = torch.where(inside, float("-inf"), float("inf"))
            scores.scatter_reduce_(1, column, marks, reduce="amin")
        s, r = _chunk_top_k(scores, k)
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
