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
