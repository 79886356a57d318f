"""The popularity prior: a learned weight on log(1 + sightings) in ranking and training."""

from __future__ import annotations

import dataclasses

import torch

from model.contract import UserSequence
from model.transformer_learner import TransformerLearner
from model.vocabulary import VocabularyConfig
from tests.unit.model.helpers import tiny_config


def _learner(popularity_prior: bool) -> TransformerLearner:
    base = tiny_config(vocabulary=VocabularyConfig(initial_capacity=64))
    model = dataclasses.replace(base.model, popularity_prior=popularity_prior, transition_items=0)
    torch.manual_seed(0)
    return TransformerLearner(dataclasses.replace(base, model=model))


def _batches() -> list[list[UserSequence]]:
    """Every user's second item is "hit", whatever the first: only popularity predicts it."""
    batches = []
    for step in range(6):
        batch = []
        for u in range(12):
            first = f"i{step * 12 + u}"
            batch.append(UserSequence(f"u{step}-{u}", [first, "hit"], ["view", "view"],
                                      [float(step), step + 0.5], 2))  # fmt: skip
        batches.append(batch)
    return batches


def test_the_prior_ranks_a_popular_item_first_and_its_weight_learns() -> None:
    learner = _learner(True)
    start = float(learner.model.popularity_weight.detach())
    assert start == learner.config.popularity_bonus
    for batch in _batches():
        learner.learn(batch)
    assert float(learner.model.popularity_weight.detach()) != start
    history = UserSequence("new", ["i999"], ["view"], [10.0], 0)
    assert learner.recommend([history], 1)[0].items == ["hit"]
    # The ranking table carries the prior as one extra column, the queries its weight.
    table, _valid = learner._ranked_table()
    assert table.shape[1] == learner.config.model.hidden_size + 1
    row = learner.vocab.row_of["hit"]
    assert torch.isclose(table[row, -1], torch.log1p(learner.table.counts[row]))


def test_without_the_prior_the_model_has_no_such_weight_or_column() -> None:
    learner = _learner(False)
    assert not hasattr(learner.model, "popularity_weight")
    table, _valid = learner._ranked_table()
    assert table.shape[1] == learner.config.model.hidden_size
