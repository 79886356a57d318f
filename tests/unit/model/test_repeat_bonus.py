"""The history bonus added by one scatter equals the dense per-candidate bonus, and
grouping history rows by sorting equals comparing every pair."""

from __future__ import annotations

import pytest
import torch

from model.repeat_bonus import HistoryBonus, add_bonus
from model.transition_prior import with_successors


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


def _pairwise_per_history_row(history: HistoryBonus) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition, by comparing every position with every other."""
    same = history.rows.unsqueeze(2) == history.rows.unsqueeze(1)
    bonus = torch.where(same, history.logits.unsqueeze(1), float("-inf")).amax(-1)
    earlier = torch.tril(torch.ones_like(same[0]), diagonal=-1)
    return bonus, ~(same & earlier).any(-1) & torch.isfinite(bonus)


def _pairwise_with_successors(
    history: HistoryBonus, rows: torch.Tensor, bonus: torch.Tensor, has: torch.Tensor
) -> torch.Tensor:
    """The merged bonus by its definition: each row's largest repeat bonus plus the sum
    of its real successor bonuses; -inf where it has neither."""
    every = torch.cat([history.rows, rows], dim=1)
    same = every.unsqueeze(2) == history.rows.unsqueeze(1)
    repeat = torch.where(same, history.logits.unsqueeze(1), float("-inf")).amax(-1)
    follows = (every.unsqueeze(2) == rows.unsqueeze(1)) & has.unsqueeze(1)
    transition = torch.where(follows, bonus.unsqueeze(1), torch.zeros_like(bonus).unsqueeze(1))
    repeated = torch.isfinite(repeat)
    total = torch.where(repeated, repeat, torch.zeros_like(repeat)) + transition.sum(-1)
    return total.masked_fill(~(repeated | follows.any(-1)), float("-inf"))


@pytest.mark.parametrize("seed", range(4))
def test_grouping_by_sorting_equals_comparing_every_pair_with_gradients(seed: int) -> None:
    positions, length, rows, successors = 9, 30, 25, 24  # small ranges: many duplicates
    history = random_history(positions, length, rows, seed)
    generator = torch.Generator().manual_seed(seed)
    successor_rows = torch.randint(0, rows, (positions, successors), generator=generator)
    bonus = torch.rand(positions, successors, generator=generator).requires_grad_()
    has = torch.rand(positions, successors, generator=generator) < 0.7
    # Per history row.
    got, got_first = history.per_history_row()
    want, want_first = _pairwise_per_history_row(history)
    torch.testing.assert_close(got, want)
    assert torch.equal(got_first, want_first)
    # Merged with the successors, values and gradients.
    weights = torch.randn(positions, length + successors, generator=generator)
    merged = with_successors(history, successor_rows, bonus, has).logits
    reference = _pairwise_with_successors(history, successor_rows, bonus, has)
    torch.testing.assert_close(merged, reference)
    finite = torch.isfinite(reference)
    grads = torch.autograd.grad((merged[finite] * weights[finite]).sum(),
                                [history.logits, bonus])  # fmt: skip
    wanted = torch.autograd.grad((reference[finite] * weights[finite]).sum(),
                                 [history.logits, bonus])  # fmt: skip
    for g, w in zip(grads, wanted, strict=True):
        torch.testing.assert_close(g, w)


def test_the_grouping_carried_from_the_merge_equals_a_fresh_one_after_select_and_cat() -> None:
    history = random_history(6, 20, 15, seed=7)
    generator = torch.Generator().manual_seed(7)
    successor_rows = torch.randint(0, 15, (6, 12), generator=generator)
    has = torch.rand(6, 12, generator=generator) < 0.7
    merged = with_successors(history, successor_rows, torch.rand(6, 12, generator=generator), has)
    assert merged.groups is not None
    keep = torch.tensor([4, 0, 2])
    for carried in (merged, merged.select(keep), HistoryBonus.cat([merged.select(keep), merged])):
        fresh = HistoryBonus(carried.logits, carried.rows)  # no grouping: sorted on use
        for got, want in zip(carried.per_history_row(), fresh.per_history_row(), strict=True):
            assert torch.equal(got, want)
