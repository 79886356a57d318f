"""The ranking mixture: the scales of the transition bonus and the popularity prior the
ranking uses, and whether the user's own items go first, chosen by the NDCG of the
ranking served."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointStore
from model.learner_config import config_from_json, config_to_json
from model.ranking_metrics import RankingSums
from model.ranking_mixture import LEARNED, STATE_KEY, Choice, MixtureConfig, RankingMixture
from model.transformer_learner import TransformerLearner
from model.vocabulary import VocabularyConfig
from tests.unit.model.helpers import cycle_batches, tiny_config


def _mixture(**changes: object) -> RankingMixture:
    config = MixtureConfig(**{"transition_scales": (1.0, 2.0), "popularity_scales": (1.0,),
                              "half_life_events": 100.0, "own_items_first": False,
                              "last_item_first": False, "own_items_last": False,
                              **changes})  # type: ignore[arg-type]  # fmt: skip
    return RankingMixture(config, transitions=True, popularity=True)


DOUBLED = Choice(transition_scale=2.0)


def _ranks(mixture: RankingMixture, good: Choice) -> list[list[int | None]]:
    """Ranks of 4 events: first place under ``good``, out of the top 10 under the rest."""
    return [[0] * 4 if choice == good else [30] * 4 for choice in mixture.grid]


def test_it_starts_with_the_learned_mixture_and_follows_the_leader() -> None:
    mixture = _mixture()
    assert mixture.choice == LEARNED and mixture.active
    mixture.observe(_ranks(mixture, DOUBLED), events=4)
    assert mixture.choice == DOUBLED
    mixture.observe([[0] * 4, [0] * 4], events=4)  # a tie keeps the leader
    assert mixture.choice == DOUBLED


def test_old_evidence_fades_so_the_choice_follows_a_changing_stream() -> None:
    mixture = _mixture()
    for _ in range(50):  # 200 events favour the doubled transitions
        mixture.observe(_ranks(mixture, DOUBLED), events=4)
    assert mixture.choice == DOUBLED
    for _ in range(25):  # 100 events (one half-life) favour the learned weights
        mixture.observe(_ranks(mixture, LEARNED), events=4)
    assert mixture.choice == LEARNED


def test_a_mixture_without_transitions_or_popularity_or_turned_off_has_nothing_to_choose() -> None:
    config = MixtureConfig()
    # 5 x 2 scales, each with the own items where the bonus puts them, all first, the last
    # first, all last
    assert len(RankingMixture(config, True, True).grid) == 40
    no_first = dataclasses.replace(config, own_items_first=False, last_item_first=False,
                                   own_items_last=False)  # fmt: skip
    assert RankingMixture(no_first, True, False).grid \
        == [Choice(t, 1.0) for t in (0.5, 1.0, 2.0, 4.0, 8.0)]  # fmt: skip
    assert RankingMixture(config, False, False).grid \
        == [LEARNED, Choice(own_items_first=True), Choice(last_item_first=True),
            Choice(own_items_last=True)]  # fmt: skip
    off = no_first
    assert not RankingMixture(off, False, False).active
    assert not RankingMixture(None, True, True).active


def test_scales_must_include_the_learned_weight() -> None:
    with pytest.raises(ValueError, match="transition_scales"):
        MixtureConfig(transition_scales=(2.0, 4.0))
    with pytest.raises(ValueError, match="popularity_scales"):
        MixtureConfig(popularity_scales=(-1.0, 1.0))


def test_a_choice_gains_the_ndcg_at_10_of_its_ranks() -> None:
    mixture = _mixture(half_life_events=1e12)  # no fading within the test
    mixture.observe([[0, 1, 9, 10, None], [None] * 5], events=5)
    assert mixture.gains.tolist() == pytest.approx([1.0 + 1 / math.log2(3) + 1 / math.log2(11),
                                                    0.0])  # fmt: skip


def _trained_learner() -> TransformerLearner:
    torch.manual_seed(0)
    config = tiny_config(vocabulary=VocabularyConfig(initial_capacity=64),
                         mixture=MixtureConfig(sample=4096))  # every event: exact sums  # fmt: skip
    learner = TransformerLearner(config)
    for batch in cycle_batches(users=16, length=8, items=40, rounds=3):
        learner.learn(batch)
    return learner


def test_each_choice_is_judged_by_the_ranks_the_ranking_would_give_under_it() -> None:
    learner = _trained_learner()
    assert learner.mixture.active
    batch = cycle_batches(users=16, length=8, items=40, rounds=4)[3]
    seen: list[Sequence[Sequence[int | None]]] = []
    learner.mixture.observe = lambda ranks, events: seen.append(ranks)  # type: ignore[method-assign]
    learner.learn(batch)
    (ranks,) = seen
    # Ranked afresh under each choice, by the same (unchanged) model: the same NDCG.
    before_step = _trained_learner()
    for choice, choice_ranks in zip(before_step.mixture.grid, ranks, strict=True):
        before_step.mixture.current = before_step.mixture.grid.index(choice)
        report = before_step.evaluate(batch)
        sums = RankingSums()
        for rank in choice_ranks:
            sums.add(rank)
        assert report.overall.count == sums.count
        assert report.overall.means()["ndcg@10"] == pytest.approx(sums.means()["ndcg@10"])


def test_last_item_first_moves_only_the_last_events_item_to_the_top() -> None:
    learner = _trained_learner()
    # Each cycle walked, then a jump back to an item of the middle: the model expects the
    # cycle to go on, so it does not rank that item first by itself.
    histories = [
        dataclasses.replace(seq, items=[*seq.items, seq.items[3]], actions=[*seq.actions, "view"],
                            ts=[*seq.ts, seq.ts[-1] + 1], new_count=1)
        for seq in cycle_batches(users=16, length=8, items=40, rounds=4)[3][:6]
    ]  # fmt: skip

    def ranked(choice: Choice) -> list[list[str]]:
        learner.mixture.current = learner.mixture.grid.index(choice)
        return [r.items for r in learner.recommend(histories, k=10)]

    learned = ranked(LEARNED)
    everything = ranked(Choice(own_items_first=True))
    for history, last_first, as_learned, own_first in zip(
        histories, ranked(Choice(last_item_first=True)), learned, everything, strict=True
    ):
        last = history.items[-1]
        assert last_first[0] == last
        assert last_first[1:] == [item for item in as_learned if item != last][:9]
        # ... where all of the own items first fill the top with the history, newest first
        own = list(dict.fromkeys(reversed(history.items)))
        assert own_first[: len(own)] == own
    # Not a choice that changes nothing: the learned ranking puts something else first.
    assert any(rec[0] != h.items[-1] for rec, h in zip(learned, histories, strict=True))


def test_own_items_last_ranks_the_rest_as_learned_and_the_users_items_below_it() -> None:
    learner = _trained_learner()
    histories = cycle_batches(users=16, length=8, items=40, rounds=4)[3][:6]

    def ranked(choice: Choice, k: int) -> list[list[str]]:
        learner.mixture.current = learner.mixture.grid.index(choice)
        return [r.items for r in learner.recommend(histories, k=k)]

    learned = ranked(LEARNED, 40)
    for history, own_last, as_learned in zip(
        histories, ranked(Choice(own_items_last=True), 40), learned, strict=True
    ):
        own = set(history.items)
        others = [item for item in as_learned if item not in own]
        assert own_last[: len(others)] == others
        assert set(own_last[len(others) :]) <= own  # what is left is the user's own
    # Not a choice that changes nothing: the learned ranking has own items in its top 5.
    assert any(set(rec[:5]) & set(h.items) for rec, h in zip(learned, histories, strict=True))


def test_evaluation_never_moves_the_choice_and_checkpoints_keep_it(tmp_path: Path) -> None:
    learner = _trained_learner()
    gains = learner.mixture.gains.clone()
    assert gains.any()
    learner.evaluate(cycle_batches(users=16, length=8, items=40, rounds=4)[3], admit_items=True)
    assert torch.equal(learner.mixture.gains, gains)
    learner.mixture.current = 0  # as if the leader had changed
    learner.mixture.gains[0] = gains.max() + 1
    LearnerCheckpointer(CheckpointStore(tmp_path)).save(learner, {})
    back = LearnerCheckpointer(CheckpointStore(tmp_path)).restore()
    assert back is not None
    assert torch.equal(back[0].mixture.gains, learner.mixture.gains)
    assert back[0].mixture.choice == learner.mixture.grid[0]


def test_a_checkpoint_from_before_the_mixture_ranks_with_the_learned_weights() -> None:
    learner = _trained_learner()
    state = learner.state_dict()
    old = config_to_json(learner.config)
    del old["mixture"]
    state = {k: v for k, v in state.items() if k != STATE_KEY} | {"config": old}
    restored = TransformerLearner.from_state_dict(state)
    assert restored.config.mixture is None and not restored.mixture.active
    assert config_from_json(config_to_json(learner.config)) == learner.config
    assert dataclasses.asdict(restored.config)["mixture"] is None
