"""The history bonus added by one scatter equals the dense per-candidate bonus."""

from __future__ import annotations

import pytest
import torch

from model.repeat_bonus import HistoryBonus, add_bonus


def random_history(positions: int, length: int, rows: int, seed: int) -> HistoryBonus:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(positions, length, generator=generator)
    # Padding and not-yet-seen positions may not be repeated; rows repeat within a history.
    logits[torch.rand(positions, length, generator=generator) < 0.3] = float("-inf")
    history_rows = torch.randint(0, rows, (positions, length), generator=generator)
    history_rows[:, -3:] = 0  # padding
    return HistoryBonus(logits.requires_grad_(), history_rows)


@pytest.mark.parametrize("some_rows", [False, True])
def test_add_to_sorted_matches_the_dense_bonus_with_gradients(some_rows: bool) -> None:
    for seed, (positions, length, rows) in enumerate([(5, 8, 12), (40, 50, 300), (7, 20, 9)]):
        history = random_history(positions, length, rows, seed)
        candidates = torch.arange(rows)
        if some_rows:  # the full softmax passes the valid rows only
            candidates = candidates[
                torch.rand(rows, generator=torch.Generator().manual_seed(seed)) < 0.6
            ]
        base = torch.randn(positions, candidates.shape[0],
                           generator=torch.Generator().manual_seed(99 + seed))  # fmt: skip
        base_dense, base_scatter = base.clone().requires_grad_(), base.clone().requires_grad_()
        dense = add_bonus(base_dense, history.per_candidate(candidates, rows), 1.2)
        logits = history.logits
        history.logits.grad = None
        weights = torch.randn(base.shape, generator=torch.Generator().manual_seed(seed))
        (dense * weights).sum().backward()  # type: ignore[no-untyped-call]
        assert logits.grad is not None
        dense_grads = base_dense.grad, logits.grad.clone()
        logits.grad = None
        scattered = history.add_to_sorted(base_scatter, candidates, 1.2)
        (scattered * weights).sum().backward()  # type: ignore[no-untyped-call]
        torch.testing.assert_close(scattered, dense)
        torch.testing.assert_close(base_scatter.grad, dense_grads[0])
        torch.testing.assert_close(logits.grad, dense_grads[1])
        assert not torch.equal(scattered, base)  # some bonus was added


def test_select_keeps_the_chosen_outputs() -> None:
    history = random_history(6, 4, 10, seed=3)
    keep = torch.tensor([True, False, True, False, False, True])
    chosen = history.select(keep)
    assert torch.equal(chosen.rows, history.rows[keep])
    assert chosen.logits.shape == (3, 4)
