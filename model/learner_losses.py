"""How the transformer learner trains: a step's weighted task loss over its new
positions and replayed sequences, the candidates it scores, and the item rows a step
may move (``item_row_updates``).

A mixin of :class:`model.transformer_learner.TransformerLearner` (which owns the state
named below), on top of its ranking half (the training scores carry the same repeat and
transition bonuses): learning and losses in one file were past this project's size rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from model.contract import StepReport, UserSequence
from model.learner_scoring import LearnerScoring
from model.repeat_bonus import HistoryBonus
from model.sequence_tensors import Positions, to_tensors, trailing_positions
from model.task_losses import Negatives, PopularityTerm, PriorTerms, task_losses
from model.vocabulary import RESERVED


class LearnerLosses(LearnerScoring):
    generator: torch.Generator

    def _loss(
        self, batch: Sequence[UserSequence], replayed: list[UserSequence], report: StepReport,
        count_sightings: bool,
    ) -> tuple[torch.Tensor | None, list[int]]:  # fmt: skip
        """The step's weighted task loss (None: no known target) and the rows of the
        batch's new targets (sightings, for the sampler's popularity; counted here, before
        the negatives are drawn, with ``count_sightings``)."""
        cfg = self.config
        sequences = [*batch, *replayed]
        counts = [min(s.new_count, cfg.model.max_len) for s in batch]
        counts += [cfg.replay_positions] * len(replayed)
        tensors = to_tensors(sequences, self.vocab, self.action_ids, cfg.model.max_len, self.device)
        sightings = [row for rows, count in zip(tensors.target_rows[: len(batch)], counts,
                                                strict=False)
                     for row in rows[len(rows) - count :]]  # fmt: skip
        # The popularity prior reads the sightings from before this step (its own targets
        # would leak into their scores), in a group as alone. Off: no pass over the table.
        recent = self.table.recent
        log_counts = torch.log1p(recent.counts()) if recent is not None else None
        if count_sightings:
            self.table.count_sightings(sightings)
        positions = trailing_positions(tensors, counts, self.device)
        positions = self._known_targets(positions)
        if positions.target.numel() == 0:
            report.skip_reason = "nothing to learn (all targets unknown)"
            return None, sightings
        self.model.train()
        with self._autocast():
            inputs, candidates = self._learnable_rows(tensors.items, positions.target)
            hidden = self.model.encode(tensors.items, tensors.actions, tensors.ts, tensors.lengths,
                                       inputs)  # fmt: skip
            states = hidden[positions.user, positions.index]
            # Replayed positions get no transition bonus: their own transition is counted.
            fresh = positions.user < len(batch)
            history = self._history(hidden, tensors.items, positions.user, positions.index,
                                    fresh)  # fmt: skip
            losses = self._losses(states, positions, history, candidates,
                                  self._prior_terms(tensors.items, positions),
                                  log_counts)  # fmt: skip
        weighted = zip(cfg.task_weights, ("item", "purchase", "action"), strict=True)
        total = sum(w * losses[name] for w, name in weighted if name in losses)
        assert isinstance(total, torch.Tensor)
        report.losses = {name: float(value.detach()) for name, value in losses.items()}
        report.losses["total"] = float(total.detach())
        report.trained_positions = int(positions.target.numel())
        report.replayed_sequences = len(replayed)
        return total, sightings

    def _known_targets(self, positions: Positions) -> Positions:
        keep = positions.target >= RESERVED
        return Positions(positions.user[keep], positions.index[keep], positions.target[keep],
                         positions.action[keep])  # fmt: skip

    def _losses(
        self, states: torch.Tensor, positions: Positions, history: HistoryBonus,
        learnable: torch.Tensor | None, prior: PriorTerms | None = None,
        log_counts: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:  # fmt: skip
        cfg = self.config
        full = len(self.vocab) <= cfg.full_softmax_max_items
        # The full softmax covers the rows in use only, as ranking does; the sampler's
        # proposal is over the whole table (row-aligned with the sightings).
        valid = self._valid_in_use() if full else self._valid_rows()
        negatives = (
            None if full else Negatives(self.table.counts, cfg.num_negatives, self.generator)
        )
        purchase = self.action_ids.get(cfg.purchase_action, -1)
        popularity = (
            PopularityTerm(log_counts, self.model.popularity_weight,
                           log_counts[positions.target] > 0)
            if log_counts is not None else None
        )  # fmt: skip
        return task_losses(self.model, states, positions, history, valid, negatives, purchase,
                           learnable, prior, popularity)  # fmt: skip

    def _prior_terms(self, items: torch.Tensor, positions: Positions) -> PriorTerms | None:
        """The content prior's user and item codes for a training step (None: off)."""
        content, prior = self.model.content, self.content_prior
        if content is None or prior is None:
            return None
        rows = self.model.item_embeddings.shape[0]
        return PriorTerms(prior.query_columns(content, items, positions.user, positions.index),
                          prior.table_columns(content, self.table.events, rows),
                          self.model.content_prior_weight)  # fmt: skip

    def _learnable_rows(
        self, items: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(N,) bool masks of the item rows a step may move (``item_row_updates``), None
        where every row read may move: (as inputs, as scored candidates)."""
        policy = self.config.item_row_updates
        if policy == "all":
            return None, None
        learnable = torch.zeros(
            self.model.item_embeddings.shape[0], dtype=torch.bool, device=self.device
        )
        learnable[targets] = True
        if policy == "sequences":
            learnable[items.flatten()] = True
        # Under "targets" the reserved rows (padding, unknown, start token) never move: the
        # start token keeps its first vector and the encoder learns around it.
        learnable[:RESERVED] = False
        return (None if policy == "sequences" else learnable), learnable
