"""Encoding rows of similar length together: the cut is the cheapest, every row lands in
a wide enough group, and the outputs (and gradients) at real positions do not change."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from model.length_buckets import bucket_rows, plan_buckets
from model.sequential_recommender import RecommenderConfig, SequentialRecommender


def cost(widths: list[int], cuts: list[int], call_cost: int) -> int:
    return sum(width * len(rows) + call_cost for rows, width in bucket_rows(widths, cuts))


@pytest.mark.parametrize("seed", range(20))
def test_the_plan_is_the_cheapest_cut(seed: int) -> None:
    rng = random.Random(seed)
    widths = [rng.choice([2, 2, 2, 3, 5, 9, 17, 30, 51]) for _ in range(rng.randint(1, 60))]
    call_cost = rng.choice([0, 16, 256])
    distinct = sorted(set(widths))
    candidates = (
        [*inner, distinct[-1]]
        for n in range(len(distinct))
        for inner in itertools.combinations(distinct[:-1], n)
    )  # every cut that ends at the widest row
    best = min(cost(widths, list(cuts), call_cost) for cuts in candidates)
    plan = plan_buckets(widths, call_cost)
    assert plan[-1] == max(widths) and plan == sorted(plan)
    assert cost(widths, plan, call_cost) == best


def test_every_row_lands_once_in_a_group_wide_enough() -> None:
    widths = [3, 51, 2, 2, 9, 51, 4]
    groups = bucket_rows(widths, [4, 9, 51])
    rows = sorted(row for members, _width in groups for row in members)
    assert rows == list(range(len(widths)))
    assert all(widths[row] <= width for members, width in groups for row in members)
    assert plan_buckets([]) == []
    assert plan_buckets([7, 7, 7], call_cost=0) == [7]


def padded_batch(lengths: list[int], rows: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    n = torch.tensor(lengths)
    width = int(n.max()) + 1
    items = torch.randint(3, rows, (len(lengths), width), generator=generator)
    actions = torch.randint(1, 4, (len(lengths), width), generator=generator)
    ts = torch.cumsum(torch.rand(len(lengths), width, generator=generator) * 100, dim=1)
    padding = torch.arange(width).unsqueeze(0) > n.unsqueeze(1)
    items[padding], actions[padding], items[:, 0] = 0, 0, 2
    return items, actions, ts, n, ~padding


def test_grouped_encoding_matches_one_padded_batch_at_every_real_position() -> None:
    torch.manual_seed(0)
    model = SequentialRecommender(RecommenderConfig(hidden_size=32, dropout=0.0), num_rows=200)
    lengths = [1, 2, 2, 3, 1, 50, 4, 2, 25, 1] * 6
    items, actions, ts, n, real = padded_batch(lengths, 200)
    assert len(plan_buckets((n + 1).tolist())) > 1  # the batch is really split

    whole = model.encode(items, actions, ts)
    whole[real].square().sum().backward()  # type: ignore[no-untyped-call]
    expected = {name: p.grad.to_dense().clone() for name, p in model.named_parameters()
                if p.grad is not None}  # fmt: skip
    model.zero_grad()
    grouped = model.encode(items, actions, ts, n)
    grouped[real].square().sum().backward()  # type: ignore[no-untyped-call]

    torch.testing.assert_close(grouped[real], whole[real], rtol=1e-4, atol=1e-5)
    for name, grad in expected.items():
        got = model.get_parameter(name).grad
        assert got is not None, name
        torch.testing.assert_close(got.to_dense(), grad, rtol=1e-3, atol=1e-5)
