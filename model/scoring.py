"""Rank targets and take top-k over the whole catalogue in chunks (no full score matrix
beyond one chunk). Queries are vectors q with score(q, row) = q . E[row]."""

from __future__ import annotations

import torch

CHUNK_ROWS = 65_536


def target_ranks(
    queries: torch.Tensor, table: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor
) -> list[int | None]:
    """0-based rank of each target among valid rows (None when the target row is invalid)."""
    if queries.shape[0] == 0:
        return []
    target_scores = (queries * table[targets]).sum(-1, keepdim=True)  # (P, 1)
    above = torch.zeros(queries.shape[0], dtype=torch.long, device=queries.device)
    for start in range(0, table.shape[0], CHUNK_ROWS):
        scores = queries @ table[start : start + CHUNK_ROWS].T  # (P, chunk)
        mask = valid[start : start + CHUNK_ROWS]
        above += ((scores > target_scores) & mask).sum(-1)
    ok = valid[targets]
    return [int(r) if good else None for r, good in zip(above.tolist(), ok.tolist(), strict=True)]


def top_k(
    queries: torch.Tensor, table: torch.Tensor, valid: torch.Tensor, k: int,
    exclude: list[list[int]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(B, k') scores and rows of the best valid rows per query, k' = min(k, valid rows)."""
    k = min(k, int(valid.sum()))
    best_scores = torch.full((queries.shape[0], 0), float("-inf"), device=queries.device)
    best_rows = torch.zeros((queries.shape[0], 0), dtype=torch.long, device=queries.device)
    for start in range(0, table.shape[0], CHUNK_ROWS):
        scores = (queries @ table[start : start + CHUNK_ROWS].T).float()
        scores = scores.masked_fill(~valid[start : start + CHUNK_ROWS], float("-inf"))
        if exclude:
            for b, rows in enumerate(exclude):
                local = [r - start for r in rows if start <= r < start + scores.shape[1]]
                if local:
                    scores[b, local] = float("-inf")
        chunk_k = min(k, scores.shape[1])
        s, r = scores.topk(chunk_k, dim=-1)
        merged_scores = torch.cat([best_scores, s], dim=1)
        merged_rows = torch.cat([best_rows, r + start], dim=1)
        best_scores, order = merged_scores.topk(min(k, merged_scores.shape[1]), dim=-1)
        best_rows = merged_rows.gather(1, order)
    return best_scores, best_rows
