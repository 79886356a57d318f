"""Sampled softmax with log-Q correction approximates the full softmax on a small catalogue."""

from __future__ import annotations

import torch

from model.losses import full_softmax_loss, sampled_softmax_loss


def test_sampled_softmax_tracks_full_softmax() -> None:
    torch.manual_seed(0)
    table = torch.randn(200, 8)
    hidden = torch.randn(32, 8)
    targets = torch.randint(3, 200, (32,))
    valid = torch.ones(200, dtype=torch.bool)
    valid[:3] = False

    def scorer(h: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return h @ table[rows].T

    full = full_softmax_loss(scorer, hidden, targets, valid)
    counts = torch.rand(200) * valid  # a skewed proposal: log-Q must undo the skew
    proposal = counts.pow(2) / counts.pow(2).sum()
    proposal = proposal * valid
    proposal = proposal / proposal.sum()
    generator = torch.Generator().manual_seed(1)
    sampled = torch.stack([
        sampled_softmax_loss(scorer, hidden, targets, proposal, 4_000, generator) for _ in range(5)
    ]).mean()  # fmt: skip
    assert abs(float(sampled) - float(full)) / float(full) < 0.1
    uncorrected = torch.nn.functional.cross_entropy(
        scorer(
            hidden,
            torch.cat([targets, torch.multinomial(proposal, 4_000, True, generator=generator)]),
        ),
        torch.arange(32),
    )
    assert abs(float(uncorrected) - float(full)) > abs(float(sampled) - float(full))


def test_full_softmax_is_cross_entropy_over_the_valid_rows_only() -> None:
    torch.manual_seed(2)
    table, hidden = torch.randn(50, 8), torch.randn(6, 8)
    valid = torch.rand(50) > 0.3
    valid[:3] = False
    targets = valid.nonzero().squeeze(1)[torch.randint(0, int(valid.sum()), (6,))]
    seen: list[torch.Tensor] = []

    def scorer(h: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        seen.append(rows)
        return h @ table[rows].T

    masked = (hidden @ table.T).masked_fill(~valid, float("-inf"))
    expected = torch.nn.functional.cross_entropy(masked, targets)
    torch.testing.assert_close(full_softmax_loss(scorer, hidden, targets, valid), expected)
    assert torch.equal(seen[0], valid.nonzero().squeeze(1))  # invalid rows never scored
