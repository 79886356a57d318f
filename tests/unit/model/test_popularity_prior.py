"""The popularity prior: a learned weight on log(1 + recent sightings) in ranking and
training, and the fading counts it reads."""

from __future__ import annotations

import dataclasses

import torch

from model.contract import UserSequence
from model.recent_sightings import RecentSightings
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
    recent = learner.table.recent
    assert recent is not None
    assert torch.isclose(table[row, -1], torch.log1p(recent.counts()[row]))
    assert recent.counts()[row] < learner.table.counts[row]  # it fades, the sampler's does not


def test_without_the_prior_the_model_has_no_such_weight_or_column() -> None:
    learner = _learner(False)
    assert not hasattr(learner.model, "popularity_weight")
    table, _valid = learner._ranked_table()
    assert table.shape[1] == learner.config.model.hidden_size


def test_a_sighting_counts_half_after_one_half_life_and_only_counted_rows_change() -> None:
    fading = RecentSightings(6, half_life=4.0, device=torch.device("cpu"))
    fading.add(torch.tensor([2, 2, 3, 3]))  # the step's four sightings count at its end
    torch.testing.assert_close(fading.counts(), torch.tensor([0, 0, 2, 2, 0, 0.0]))
    before = fading.scaled.clone()
    fading.add(torch.tensor([5, 5, 5, 5]))  # one half-life later
    torch.testing.assert_close(fading.counts(), torch.tensor([0, 0, 1, 1, 0, 4.0]))
    assert torch.equal(fading.scaled[:5], before[:5])  # a delta holds row 5 alone


def test_rescaling_keeps_the_counts_and_never_overflows() -> None:
    eager = torch.zeros(3, dtype=torch.float64)
    fading = RecentSightings(3, half_life=1.0, device=torch.device("cpu"))
    rescaled = []
    for step in range(3_000):  # 3,000 half-lives: 2^3000 would overflow without rescaling
        rows = torch.tensor([step % 3])
        eager = eager * 0.5 + torch.nn.functional.one_hot(rows, 3).sum(0)
        rescaled.append(fading.add(rows))
    assert sum(rescaled) == 5  # every 512 half-lives
    assert torch.isfinite(fading.scaled).all()
    torch.testing.assert_close(fading.counts(), eager.float())


def test_without_a_half_life_sightings_never_fade() -> None:
    fading = RecentSightings(2, half_life=None, device=torch.device("cpu"))
    for _ in range(100):
        fading.add(torch.tensor([1]))
    assert fading.counts().tolist() == [0.0, 100.0]
