"""How strongly the model's ranking leans on its count-based evidence, chosen online by
the quality of the ranking it serves.

The model ranks by item score + repeat bonus + transition bonus + popularity prior,
their weights learned by the training loss (a softmax over the catalogue). That
likelihood is not the top of the ranking: on Amazon Beauty the learned transition
weights ranked held-out events at half of what three times those weights did, while on
the session stream three times cost 14 % (bench/NOTES.md, issue 20, fourth session).
Which is right depends on the stream, so the ranking picks it the way an operator would,
from the evidence: every step, before learning, the ranked events are also ranked
with the transition bonus and the popularity prior scaled by each choice of a small grid,
each choice's NDCG@10 fades with a half-life in events, and the next steps rank with the
best choice so far (follow the leader). Training never sees the scales: they calibrate
the learned mixture for ranking, they do not replace it.

A third axis (``own_items_first``) puts the user's own items on top, most recent first,
and everything else below as the model ranks it: the own-recent baseline's order inside
the model's ranking. On the session stream that order is what the learned repeat head
falls short of (the item just viewed again is 17 % of the clicks; NDCG@10 on them was
0.946 with the head, 1.0 with the baseline), so with it among the choices the ranking
reaches the baseline where the baseline is the best there is (bench/NOTES.md, issue 20,
fifth session). Between the two, ``last_item_first`` puts only the item of the user's
last event on top: where the next event is often that item again (a click after a view,
a purchase after a click) but rarely an older one, all of the own items on top push the
next new item down by the length of the history (bench/NOTES.md, issue 20, sixth
session: +0.7 % on the synthetic stream, +0.6 % on the session stream, nothing on the
others, at 0.89-0.96x the replay events/s for the 8 more choices observed).

A fourth, ``own_items_last``, is the opposite: the user's own items below every other
item. On a stream where people rarely take the same item twice (Amazon Beauty: reviews,
98.6 % of the next items not in the history) the repeat head still gives them a bonus
learned on other users' states; with them at the bottom and the transitions at 8x, each
user's last review ranked at the end went from NDCG@10 0.0345 to 0.0386, with the
successor lists' new replacement rule (model/transition_table.py; bench/NOTES.md, issue
20, seventh session).

Cost: the grid's extra rankings are of a sample of each step's events (``sample``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from model.ranking_metrics import RankingSums

STATE_KEY = "mixture.gains"


@dataclass(frozen=True)
class MixtureConfig:
    transition_scales: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    popularity_scales: tuple[float, ...] = (0.0, 1.0)
    half_life_events: float = 20_000.0
    sample: int = 8  # events per step ranked under every choice
    own_items_first: bool = True  # also try the user's own items first, newest first
    last_item_first: bool = True  # also try only the item of the user's last event first
    own_items_last: bool = True  # also try the user's own items below everything else

    def __post_init__(self) -> None:
        for name in ("transition_scales", "popularity_scales"):
            scales = getattr(self, name)
            if not scales or 1.0 not in scales or min(scales) < 0:
                raise ValueError(f"{name} must be non-negative and include 1.0, not {scales}")
        if self.half_life_events <= 0 or self.sample < 1:
            raise ValueError("half_life_events must be positive and sample at least 1")


@dataclass(frozen=True)
class Choice:
    """One way to rank: the transition and popularity scales, and whether the user's own
    items go first (newest first), only the item of the last event, or neither (where
    the learned repeat bonus puts them)."""

    transition_scale: float = 1.0
    popularity_scale: float = 1.0
    own_items_first: bool = False
    last_item_first: bool = False  # (with own_items_first it adds nothing)
    own_items_last: bool = False  # the user's own items below every other item


LEARNED = Choice()  # the learned mixture as it is


class RankingMixture:
    """The grid of choices (transition scale, popularity scale, own items or the last
    item first) and their faded NDCG@10."""

    def __init__(self, config: MixtureConfig | None, transitions: bool, popularity: bool) -> None:
        """``config`` None: rank with the learned mixture, always. A scale of something the
        model does not rank with (no transitions, no popularity prior) stays at 1."""
        self.config = config or MixtureConfig()  # an inactive grid never reads it
        t_scales = config.transition_scales if config and transitions else (1.0,)
        p_scales = config.popularity_scales if config and popularity else (1.0,)
        # (own items first, last item first, own items last)
        first = [(False, False, False)]
        if config and config.own_items_first:
            first.append((True, False, False))
        if config and config.last_item_first:
            first.append((False, True, False))
        if config and config.own_items_last:
            first.append((False, False, True))
        self.grid: list[Choice] = [
            Choice(t, p, own, last, own_last)
            for (own, last, own_last), t, p in itertools.product(first, t_scales, p_scales)
        ]
        self.gains = torch.zeros(len(self.grid), dtype=torch.float64)
        self.current = self.grid.index(LEARNED)

    @property
    def active(self) -> bool:
        return len(self.grid) > 1

    @property
    def choice(self) -> Choice:
        """How the ranking ranks now."""
        return self.grid[self.current]

    def observe(self, ranks: Sequence[Sequence[int | None]], events: int) -> None:
        """``ranks``: per choice of the grid, the sampled events' 0-based ranks under it
        (None: not rankable); ``events`` ranked in the step (the fading clock). Then
        follow the leader; the current choice keeps a tie."""
        ndcg = torch.zeros_like(self.gains)
        for choice, choice_ranks in enumerate(ranks):
            sums = RankingSums()
            for rank in choice_ranks:
                sums.add(rank)
            ndcg[choice] = sums.ndcg10
        fade = math.pow(0.5, events / self.config.half_life_events)
        self.gains = self.gains * fade + ndcg
        best = int(torch.argmax(self.gains))
        if self.gains[best] > self.gains[self.current]:
            self.current = best

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {STATE_KEY: self.gains.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """From a checkpoint; one from before the mixture (or with another grid) starts
        from the learned mixture."""
        gains = state.get(STATE_KEY)
        if gains is not None and gains.shape == self.gains.shape:
            self.gains = gains.to("cpu", torch.float64).clone()
            self.current = int(torch.argmax(self.gains)) if self.gains.any() else self.current
