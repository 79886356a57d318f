"""Next-item losses: full softmax for small catalogues, sampled softmax with log-Q
correction for large ones (Bengio & Senecal 2008; Yi et al., RecSys 2019)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Scorer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (P, H), (C,) -> (P, C)


def full_softmax_loss(
    scorer: Scorer, hidden: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy over every valid row; ``valid`` (N,) bool leaves out padding, unknown
    and free rows. The scorer gets the valid rows only (sorted): masking the others to
    -inf cost a pass over the (P, N) logits and their columns in every matrix product.
    Targets on invalid rows are left out of the mean."""
    rows = valid.nonzero().squeeze(1)
    column = torch.full((valid.shape[0],), -100, dtype=torch.long, device=valid.device)
    column[rows] = torch.arange(rows.shape[0], device=valid.device)
    return F.cross_entropy(scorer(hidden, rows).float(), column[targets], ignore_index=-100)


def sampled_softmax_loss(
    scorer: Scorer,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    proposal: torch.Tensor,
    num_negatives: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cross-entropy of each target against ``num_negatives`` rows drawn from ``proposal``.

    ``proposal`` (N,) are sampling probabilities (0 for rows never to sample). Each
    negative logit is corrected by ``-log(K q)``, so the sampled normaliser estimates the
    full one whatever the proposal's skew; negatives equal to the target are masked out.
    """
    negatives = torch.multinomial(proposal, num_negatives, replacement=True, generator=generator)
    log_kq = torch.log(proposal[negatives].clamp_min(1e-12) * num_negatives)
    positive = scorer(hidden, targets).float().diagonal().unsqueeze(1)  # (P, 1)
    sampled = scorer(hidden, negatives).float() - log_kq  # (P, K)
    sampled = sampled.masked_fill(negatives.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
    logits = torch.cat([positive, sampled], dim=1)
    zeros = torch.zeros(targets.shape[0], dtype=torch.long, device=hidden.device)
    return F.cross_entropy(logits, zeros)
