"""What one training step minimises: next item and next purchased item (each scored
with the repeat bonus, by a full softmax over the valid rows or a sampled softmax) and
next action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.losses import Scorer, full_softmax_loss, sampled_softmax_loss
from model.repeat_bonus import HistoryBonus, add_bonus
from model.sequence_tensors import Positions
from model.sequential_recommender import SequentialRecommender

# (P, H) states, (C,) candidate rows, (N,) learnable rows or None -> (P, C) scores
Head = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass(frozen=True)
class Negatives:
    """Sampled softmax: ``count`` rows drawn by sightings ** 0.75 (word2vec's smoothing)."""

    sightings: torch.Tensor  # (N,) per row
    count: int
    generator: torch.Generator


@dataclass(frozen=True)
class PriorTerms:
    """The content prior in training scores (model/content_prior.py): score += weight x
    user code . item code, so its weight learns from the loss."""

    users: torch.Tensor  # (P, D) codes of the outputs
    items: torch.Tensor  # (N, D) codes of young items, zero for the others
    weight: torch.Tensor  # () the learned weight

    def scores(self, keep: torch.Tensor | None, candidates: torch.Tensor) -> torch.Tensor:
        users = self.users if keep is None else self.users[keep]
        return self.weight * (users @ self.items[candidates].T)


@dataclass(frozen=True)
class PopularityTerm:
    """The popularity prior in training scores: score += weight x log(1 + sightings), for
    the outputs whose target had been sighted before. An item's first event cannot be
    ranked (it has no row yet when ranked) and is counted a miss whatever the scores,
    so it must not teach the weight that unseen items come next: on Taobao, where three
    events in four are first events, that turned the weight against every known item."""

    log_counts: torch.Tensor  # (N,) log(1 + sightings) per row, from before the step
    weight: torch.Tensor  # () the learned weight
    seen: torch.Tensor  # (P,) bool: the output's target had sightings before the step

    def scores(self, keep: torch.Tensor | None, candidates: torch.Tensor) -> torch.Tensor:
        seen = self.seen if keep is None else self.seen[keep]
        return self.weight * seen.unsqueeze(1) * self.log_counts[candidates].unsqueeze(0)


def task_losses(
    model: SequentialRecommender, states: torch.Tensor, positions: Positions,
    history: HistoryBonus, valid: torch.Tensor, negatives: Negatives | None, purchase: int,
    learnable: torch.Tensor | None = None, prior: PriorTerms | None = None,
    popularity: PopularityTerm | None = None,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Losses by task ("item", "purchase", "action"; a task without targets is left out).
    ``negatives`` None: a full softmax over the ``valid`` rows (N,). ``learnable`` (N,)
    bool: the only item rows that get a gradient (None: every scored row)."""
    full = negatives is None
    num_rows = valid.shape[0]

    def with_bonus(head: Head, keep: torch.Tensor | None = None) -> Scorer:
        source = history if keep is None else history.select(keep)

        def scorer(h: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
            base = head(h, candidates, learnable).float()
            if prior is not None:
                base = base + prior.scores(keep, candidates).float()
            if popularity is not None:
                base = base + popularity.scores(keep, candidates).float()
            if full:  # full_softmax_loss passes the valid rows, sorted
                return source.add_to_sorted(base, candidates)
            return add_bonus(base, source.per_candidate(candidates, num_rows))

        return scorer

    def item_loss(scorer: Scorer, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if negatives is None:
            return full_softmax_loss(scorer, h, t, valid)
        return sampled_softmax_loss(scorer, h, t, proposal, negatives.count, negatives.generator)

    if negatives is not None:
        proposal = (negatives.sightings + 1).pow(0.75) * valid
        proposal = proposal / proposal.sum()
    losses = {"item": item_loss(with_bonus(model.item_logits), states, positions.target)}
    bought = positions.action == purchase
    if bought.any():
        losses["purchase"] = item_loss(
            with_bonus(model.purchase_logits, bought), states[bought], positions.target[bought]
        )
    known_action = positions.action > 0
    if known_action.any():
        losses["action"] = F.cross_entropy(
            model.action_logits(states[known_action]).float(), positions.action[known_action] - 1
        )
    return losses
