"""Work on a learner outside the stream: batch training (periodic retraining, offline
evaluation) and scoring given candidate items (the sampled-negatives protocol)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import torch

from model.contract import StepReport, UserSequence
from model.repeat_bonus import add_bonus
from model.transformer_learner import TransformerLearner
from model.vocabulary import RESERVED


@torch.no_grad()
def score_items(
    learner: TransformerLearner,
    histories: Sequence[UserSequence],
    candidates: Sequence[Sequence[str]],
) -> list[list[float]]:
    """Ranking scores of given items after each history (unknown items: -inf)."""
    queries, history = learner._next_item_queries(histories)
    # The ranking table, prior columns included (they match the queries' extra columns).
    table, _valid = learner._ranked_table()
    out = []
    for b, items in enumerate(candidates):
        rows = torch.tensor(learner.vocab.lookup(list(items)), device=learner.device)
        base = table[rows] @ queries[b]
        one = history.select(slice(b, b + 1))
        scores = add_bonus(base, one.per_candidate(rows, table.shape[0])[0], learner._bonus_weight)
        scores = scores.masked_fill(rows < RESERVED, float("-inf"))
        out.append(scores.tolist())
    return out


def fit(
    learner: TransformerLearner,
    sequences: Sequence[UserSequence],
    epochs: int,
    batch_size: int,
    positions_per_sequence: int | None = None,
) -> float:
    """Train on whole sequences (every position, or the last few) for ``epochs``.

    Returns the seconds spent. Items are admitted as they are met; the sequences'
    transitions are counted once training is done.
    """
    started = time.perf_counter()
    for seq in sequences:
        learner.add_items(seq.items, seq.ts[-1] if seq.ts else 0.0)
    rng = random.Random(learner.config.seed + learner.version)
    order = list(sequences)
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            chunk = [
                UserSequence(s.user_id, s.items, s.actions, s.ts,
                             min(len(s.items), positions_per_sequence or len(s.items)))
                for s in order[start : start + batch_size]
            ]  # fmt: skip
            learner._train_step(chunk, [], StepReport(learner.version, len(chunk)))
    # The transitions the model ranks with, counted after training (as online): trained
    # on sequences whose transitions were already counted, its weights would learn to
    # trust a count that always holds the target. They keep their starting values here.
    learner.table.add_transitions(
        [(learner.vocab.lookup(list(s.items)), len(s.items)) for s in sequences]
    )
    return time.perf_counter() - started
