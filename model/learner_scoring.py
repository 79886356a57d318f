"""How the transformer learner ranks: the item table it scores, the queries of each
output, the repeat and transition bonuses, top-k and target ranks.

A mixin of :class:`model.transformer_learner.TransformerLearner` (which owns the
state named below): ranking is half of what a learner does, and in one file the two
halves were past this project's size rule.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from model.content_prior import ContentPrior
from model.contract import Recommendation, StepReport, UserSequence
from model.item_table import ItemTable
from model.learner_config import LearnerConfig
from model.ranking_metrics import RankingSums, age_bucket
from model.ranking_mixture import Choice, RankingMixture
from model.repeat_bonus import HistoryBonus
from model.scoring import target_ranks, top_k
from model.sequence_tensors import to_tensors, trailing_positions
from model.sequential_recommender import SequentialRecommender
from model.transition_prior import successor_bonus, with_successors
from model.vocabulary import RESERVED, ItemVocabulary


class LearnerScoring:
    config: LearnerConfig
    device: torch.device
    vocab: ItemVocabulary
    action_ids: dict[str, int]
    model: SequentialRecommender
    table: ItemTable
    content_prior: ContentPrior | None
    mixture: RankingMixture
    subsample_rng: random.Random
    _valid_cache: tuple[tuple[int, int], torch.Tensor] | None

    def _valid_rows(self) -> torch.Tensor:
        """(N,) bool: rows that hold an item; cached until the vocabulary changes."""
        key = (self.vocab.revision, self.model.item_embeddings.shape[0])
        if self._valid_cache is not None and self._valid_cache[0] == key:
            return self._valid_cache[1]
        size = self.model.item_embeddings.shape[0]
        flags = np.frombuffer(self.vocab.live_flags, dtype=np.bool_)
        valid = torch.zeros(size, dtype=torch.bool)
        valid[: len(flags)] = torch.from_numpy(flags.copy())  # a copy: the flags keep growing
        valid = valid.to(self.device)
        self._valid_cache = (key, valid)
        return valid

    def _valid_in_use(self) -> torch.Tensor:
        """Validity of the rows up to the vocabulary's high-water mark: the table has room
        to grow (its capacity doubles), and scoring the unused rows was up to half of the
        ranking and of the full softmax."""
        return self._valid_rows()[: self.vocab.num_rows]

    def _ranked_table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Item vectors and validity of the rows in use."""
        valid = self._valid_in_use()
        table = self.model.ranked_vectors(valid.shape[0])
        content, prior = self.model.content, self.content_prior
        if content is not None and prior is not None:
            columns = prior.table_columns(content, self.table.events, valid.shape[0])
            table = torch.cat([table, columns], dim=1)
        if self.table.recent is not None:
            popularity = torch.log1p(self.table.recent.counts(valid.shape[0])).unsqueeze(1)
            table = torch.cat([table, popularity.to(table.dtype)], dim=1)
        return table, valid

    def _ranking_queries(
        self, hidden: torch.Tensor, items: torch.Tensor, user: torch.Tensor, index: torch.Tensor,
        popularity_scale: float | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Ranking queries of the outputs (user[p], index[p]), with the content prior's
        columns when it is on (matching :meth:`_ranked_table`); the popularity prior's
        weight scaled by ``popularity_scale`` (None: the ranking mixture's)."""
        queries = self._queries(hidden[user, index])
        content, prior = self.model.content, self.content_prior
        if content is not None and prior is not None:
            weight = self.model.content_prior_weight.detach().float()
            columns = weight * prior.query_columns(content, items, user, index)
            queries = torch.cat([queries, columns], dim=1)
        if self.table.recent is not None:  # as _ranked_table: one column each side
            scale = popularity_scale
            if scale is None:
                scale = self.mixture.choice.popularity_scale
            weight = self.model.popularity_weight.detach().float() * scale
            queries = torch.cat([queries, weight.expand(queries.shape[0], 1)], dim=1)
        return queries

    def _autocast(self) -> Any:
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")

    def _queries(self, hidden: torch.Tensor) -> torch.Tensor:
        """Ranking query: the weighted sum of the two item heads is one dot product."""
        w_item, w_purchase = self.config.rank_weights
        projected: torch.Tensor = self.model.purchase_projection(hidden)
        return (w_item * hidden + w_purchase * projected).float()

    @torch.no_grad()
    def _score(
        self, batch: Sequence[UserSequence], k: int, report: StepReport,
        cold: set[str] | None = None, ages: list[int] | None = None, observe: bool = False,
    ) -> list[Recommendation]:  # fmt: skip
        """Rank the new events; items in ``cold`` (first seen in this batch) count as missed.
        ``ages``: each new event's item age, in batch order (quality by item age).
        ``observe``: the ranks count toward the ranking mixture (a step's, never an
        evaluation's: held-out events must not choose how they are ranked)."""
        self.model.eval()
        tensors = to_tensors(
            batch, self.vocab, self.action_ids, self.config.model.max_len, self.device
        )
        counts = [min(s.new_count, self.config.model.max_len) for s in batch]
        positions = trailing_positions(tensors, counts, self.device)
        with self._autocast():
            hidden = self.model.encode(tensors.items, tensors.actions, tensors.ts, tensors.lengths)
        table, valid = self._ranked_table()
        kept = self._ranked_sample(positions.target.shape[0])
        at = torch.tensor(kept, dtype=torch.long, device=self.device)
        user, index, target = positions.user[at], positions.index[at], positions.target[at]
        queries = self._ranking_queries(hidden, tensors.items, user, index)
        history = self._history(hidden, tensors.items, user, index)
        ranks = target_ranks(queries, table, target, valid, history, self._bonus_weight)
        if cold:
            # Never seen before this event: new to the vocabulary in this batch and not
            # earlier in the user's own window.
            unseen = [
                seq.items[i] in cold and seq.items[i] not in seq.items[:i]
                for seq, n in zip(batch, counts, strict=True)
                for i in range(len(seq.items) - n, len(seq.items))
            ]
            ranks = [None if unseen[p] else r for r, p in zip(ranks, kept, strict=True)]
        names = {i: a for a, i in self.action_ids.items()}
        for rank, action in zip(ranks, positions.action[at].tolist(), strict=True):
            report.overall.add(rank)
            report.per_action.setdefault(names.get(action, "unknown"), RankingSums()).add(rank)
        if ages is not None:
            ranked = ranked_ages(batch, counts, ages)
            for rank, p in zip(ranks, kept, strict=True):
                report.per_age.setdefault(age_bucket(ranked[p]), RankingSums()).add(rank)
        report.evaluated += len(ranks)
        report.cold += sum(rank is None for rank in ranks)
        recommendations = []
        if k > 0:
            users = torch.arange(len(batch), device=self.device)
            last = self._ranking_queries(hidden, tensors.items, users, tensors.lengths)
            history = self._history(hidden, tensors.items, users, tensors.lengths)
            recommendations = self._to_recommendations(batch, last, table, valid, k, None,
                                                       history)  # fmt: skip
        if observe and self.mixture.active:  # last: the whole step ranks with one mixture
            rankable = [p for p, rank in enumerate(ranks) if rank is not None]
            self._observe_mixture(hidden, tensors.items, user, index, target, table, valid,
                                  rankable, len(ranks))  # fmt: skip
        return recommendations

    def _observe_mixture(
        self, hidden: torch.Tensor, items: torch.Tensor, user: torch.Tensor, index: torch.Tensor,
        target: torch.Tensor, table: torch.Tensor, valid: torch.Tensor, rankable: list[int],
        events: int,
    ) -> None:  # fmt: skip
        """Rank an evenly spaced sample of the rankable outputs under every choice of the
        mixture's grid and let the mixture count their NDCG (evenly spaced, not drawn:
        the learner's random streams stay as they were)."""
        if not rankable:
            return
        sample = min(len(rankable), self.mixture.config.sample)
        picked = [rankable[(i * len(rankable)) // sample] for i in range(sample)]
        at = torch.tensor(picked, dtype=torch.long, device=self.device)
        user, index, target = user[at], index[at], target[at]
        # Every choice's queries and bonuses stacked into one ranking call: one matmul of
        # (choices x sample) queries is far cheaper than a call per choice.
        grid = self.mixture.grid
        # One history bonus per distinct key: choices that differ only in the popularity
        # scale share it (half of the grid).
        distinct = {_bonus_key(c): c for c in grid}
        histories = {key: self._history(hidden, items, user, index, choice=c)
                     for key, c in distinct.items()}  # fmt: skip
        queries = {p: self._ranking_queries(hidden, items, user, index, popularity_scale=p)
                   for p in {c.popularity_scale for c in grid}}  # fmt: skip
        bonuses = [histories[_bonus_key(c)] for c in grid]
        stacked = HistoryBonus.cat(bonuses)
        stacked_queries = torch.cat([queries[c.popularity_scale] for c in grid])
        found = target_ranks(stacked_queries, table, target.repeat(len(grid)), valid, stacked,
                             self._bonus_weight)  # fmt: skip
        self.mixture.observe([found[i * sample : (i + 1) * sample] for i in range(len(grid))],
                             events)  # fmt: skip

    def _ranked_sample(self, events: int) -> list[int]:
        """Which of a step's new events are ranked: all, or a sorted uniform sample."""
        limit = self.config.eval_max_events
        if limit is None or events <= limit:
            return list(range(events))
        return sorted(self.subsample_rng.sample(range(events), limit))

    @property
    def _bonus_weight(self) -> float:
        return float(sum(self.config.rank_weights))

    def _history(
        self, hidden: torch.Tensor, items: torch.Tensor, user: torch.Tensor, index: torch.Tensor,
        fresh: torch.Tensor | None = None, choice: Choice | None = None,
    ) -> HistoryBonus:  # fmt: skip
        """The repeat head's bonus of each output's history, and the transition bonus of
        its recent items' successors (``fresh`` (P,) False: none for that output). Training
        (``fresh`` given) uses the learned weights; ranking ranks as ``choice`` says (None:
        the ranking mixture's): the transition weights scaled, the own items first or not."""
        logits, rows = self.model.repeat_logits(hidden, items, user, index, RESERVED)
        if fresh is None:
            choice = choice or self.mixture.choice
            if choice.own_items_first or choice.last_item_first:
                first = own_items_first(index, logits.shape[1], choice.own_items_first)
                logits = logits + first
            elif choice.own_items_last:
                logits = logits - OWN_FIRST  # below any item score (-inf stays -inf)
        history = HistoryBonus(logits, rows)
        transitions = self.table.transitions
        if transitions is None:
            return history
        weights: torch.Tensor = self.model.transition_weights
        if choice is not None:
            weights = weights.detach() * choice.transition_scale
        successors = successor_bonus(transitions, weights, items, user, index, fresh)
        return with_successors(history, *successors)

    def _to_recommendations(
        self, batch: Sequence[UserSequence], queries: torch.Tensor, table: torch.Tensor,
        valid: torch.Tensor, k: int, exclude: Sequence[Sequence[str]] | None,
        history: HistoryBonus,
    ) -> list[Recommendation]:  # fmt: skip
        excluded = [self.vocab.lookup(list(items)) for items in exclude] if exclude else None
        if excluded:
            excluded = [[r for r in rows if r >= RESERVED] for rows in excluded]
        scores, rows = top_k(queries, table, valid, k, excluded, history, self._bonus_weight)
        out = []
        item_at, isfinite = self.vocab.item_at, math.isfinite  # locals: this runs per item
        for seq, s, r in zip(batch, scores.tolist(), rows.tolist(), strict=True):
            kept = [(item, score) for row, score in zip(r, s, strict=True)
                    if isfinite(score) and (item := item_at(row))]  # fmt: skip
            out.append(Recommendation(seq.user_id, [item for item, _ in kept],
                                      [score for _, score in kept]))  # fmt: skip
        return out

    def recommend(
        self, histories: Sequence[UserSequence], k: int,
        exclude: Sequence[Sequence[str]] | None = None,
    ) -> list[Recommendation]:  # fmt: skip
        if not histories:
            return []
        queries, history = self._next_item_queries(histories)
        table, valid = self._ranked_table()
        return self._to_recommendations(histories, queries, table, valid, k, exclude, history)

    @torch.no_grad()
    def _next_item_queries(
        self, histories: Sequence[UserSequence]
    ) -> tuple[torch.Tensor, HistoryBonus]:
        """Ranking queries and repeat bonuses for the item after each whole history."""
        self.model.eval()
        tensors = to_tensors(
            histories, self.vocab, self.action_ids, self.config.model.max_len, self.device
        )
        with self._autocast():
            hidden = self.model.encode(tensors.items, tensors.actions, tensors.ts, tensors.lengths)
        users = torch.arange(len(histories), device=self.device)
        queries = self._ranking_queries(hidden, tensors.items, users, tensors.lengths)
        return queries, self._history(hidden, tensors.items, users, tensors.lengths)


OWN_FIRST = 1e4  # above any item score: own items rank above every other item ...
OWN_FIRST_STEP = 100.0  # ... the newest first: a step of recency outweighs any bonus


def own_items_first(index: torch.Tensor, length: int, every: bool = True) -> torch.Tensor:
    """(P, L) addition to the repeat logits that ranks each output's history items above
    everything else, the newest first (output p reads positions up to ``index[p]``; a
    position not allowed stays -inf). Below 1e4 float32 still resolves 1e-3, so the
    model's own order decides among items of the same recency only. ``every`` False:
    only the item at the newest position (the user's last event) goes first."""
    distance = index.unsqueeze(1) - torch.arange(length, device=index.device)
    first = OWN_FIRST - OWN_FIRST_STEP * distance.clamp(min=0).float()
    return first if every else torch.where(distance == 0, first, torch.zeros_like(first))


def _bonus_key(choice: Choice) -> tuple[float, bool, bool, bool]:
    """What a choice's history bonus depends on (the popularity scale is in the queries)."""
    return (choice.transition_scale, choice.own_items_first, choice.last_item_first,
            choice.own_items_last)  # fmt: skip


def ranked_ages(batch: Sequence[UserSequence], counts: list[int], ages: list[int]) -> list[int]:
    """The ages of the ranked positions (each sequence's last ``counts`` new events) out
    of the ages of every new event, in batch order."""
    out: list[int] = []
    start = 0
    for seq, count in zip(batch, counts, strict=True):
        out += ages[start + seq.new_count - count : start + seq.new_count]
        start += seq.new_count
    return out
