"""Chunked ranking and top-k agree with a brute-force score matrix, bonus and all."""

from __future__ import annotations

import pytest
import torch

import model.scoring as scoring
from model.repeat_bonus import HistoryBonus


def brute_scores(
    queries: torch.Tensor, table: torch.Tensor, history: HistoryBonus | None, weight: float
) -> torch.Tensor:
    scores = queries @ table.T
    if history is None:
        return scores
    for p in range(queries.shape[0]):
        best: dict[int, float] = {}
        for logit, row in zip(history.logits[p].tolist(), history.rows[p].tolist(), strict=True):
            if logit != float("-inf"):
                best[row] = max(best.get(row, float("-inf")), logit)
        for row, bonus in best.items():
            scores[p, row] += weight * bonus
    return scores


def case(seed: int, with_history: bool) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    n, p, d, length = 300, 9, 8, 6
    queries, table = torch.randn(p, d, generator=g), torch.randn(n, d, generator=g)
    valid = torch.rand(n, generator=g) > 0.2
    valid[:3] = False  # reserved rows
    rows = torch.randint(0, 40, (p, length), generator=g)  # repeats within a history
    logits = torch.randn(p, length, generator=g) * 3  # bonuses of both signs
    logits[torch.rand(p, length, generator=g) < 0.3] = float("-inf")
    targets = torch.where(torch.rand(p, generator=g) < 0.5, rows[:, 0],
                          torch.randint(0, n, (p,), generator=g))  # fmt: skip
    return queries, table, valid, targets, rows, logits if with_history else torch.empty(0)


@pytest.mark.parametrize("chunk", [7, 64, 65_536])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("with_history", [False, True])
def test_target_ranks_match_brute_force(
    chunk: int, seed: int, with_history: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "CHUNK_ELEMENTS", chunk * 9)
    queries, table, valid, targets, rows, logits = case(seed, with_history)
    history = HistoryBonus(logits, rows) if with_history else None
    ranks = scoring.target_ranks(queries, table, targets, valid, history, bonus_weight=1.5)
    scores = brute_scores(queries, table, history, 1.5)
    for p, target in enumerate(targets.tolist()):
        if not valid[target]:
            assert ranks[p] is None
            continue
        others = valid.clone()
        others[target] = False
        expected = int(((scores[p] > scores[p, target]) & others).sum())
        assert ranks[p] == expected, (p, ranks[p], expected)


@pytest.mark.parametrize("chunk", [7, 64, 65_536])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("with_history", [False, True])
@pytest.mark.parametrize("block", [1, 3, 32])  # 32 never splits 300 rows into > 2k blocks
def test_top_k_matches_brute_force(
    chunk: int, seed: int, with_history: bool, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "CHUNK_ELEMENTS", chunk * 9)
    monkeypatch.setattr(scoring, "TOPK_BLOCK", block)
    queries, table, valid, _targets, rows, logits = case(seed, with_history)
    history = HistoryBonus(logits, rows) if with_history else None
    exclude = [[5, 6, 7], [], [int(rows[2, 0])]] + [[] for _ in range(queries.shape[0] - 3)]
    top_scores, top_rows = scoring.top_k(queries, table, valid, 10, exclude, history, 1.5)
    scores = brute_scores(queries, table, history, 1.5)
    scores[:, ~valid] = float("-inf")
    for p, banned in enumerate(exclude):
        scores[p, banned] = float("-inf")
    expected_scores, _ = scores.topk(10, dim=-1)
    torch.testing.assert_close(top_scores, expected_scores)
    torch.testing.assert_close(scores.gather(1, top_rows), top_scores)  # rows carry them
    for p in range(queries.shape[0]):
        assert len(set(top_rows[p].tolist())) == 10


@pytest.mark.parametrize("width", [640, 655, 1_000])
def test_block_top_k_is_the_plain_top_k(width: int) -> None:
    """Blocks of 32 with a ragged tail; ties and -inf columns included."""
    g = torch.Generator().manual_seed(width)
    scores = torch.randn(12, width, generator=g).round(decimals=1)  # many ties
    scores[:, torch.rand(width, generator=g) < 0.2] = float("-inf")
    scores[0, :] = float("-inf")  # a row with nothing valid
    values, columns = scoring._chunk_top_k(scores.clone(), 10)
    expected, _ = scores.topk(10, dim=-1)
    torch.testing.assert_close(values.sort(-1, descending=True).values, expected)
    torch.testing.assert_close(scores.gather(1, columns), values)
    assert all(len(set(row)) == 10 for row in columns.tolist())
