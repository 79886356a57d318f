"""Guards, test-then-train order and growth of the incremental learner."""

from __future__ import annotations

from typing import cast

import pytest
import torch

from model.contract import UserSequence
from model.replica_group import ReplicaGroup
from model.transformer_learner import TransformerLearner
from model.vocabulary import RESERVED
from tests.unit.model.helpers import cycle_batches, tiny_config


def test_injected_nan_is_skipped_and_weights_are_restored() -> None:
    learner = TransformerLearner(tiny_config())
    batches = cycle_batches()
    learner.learn(batches[0])
    good = {k: v.clone() for k, v in learner.model.state_dict().items()}
    version = learner.version
    with torch.no_grad():
        learner.model.action_head.weight.fill_(float("nan"))  # a corrupted update
    report = learner.learn(batches[1])
    assert report.skipped
    assert report.skip_reason == "non-finite loss"
    assert learner.version == version
    restored = learner.model.state_dict()
    assert all(torch.equal(restored[k], good[k]) for k in good)
    assert not learner.learn(batches[2]).skipped  # and learning goes on


def test_a_step_that_leaves_non_finite_weights_is_rolled_back() -> None:
    learner = TransformerLearner(tiny_config())
    learner.learn(cycle_batches()[0])
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    for group in learner.table.dense_optimizer.param_groups:
        group["lr"] = float("inf")
    report = learner.learn(cycle_batches()[1])
    assert report.skipped and report.skip_reason == "non-finite weights after the step"
    after = learner.model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_a_guard_restores_recent_weights_when_the_version_is_renumbered_between_steps() -> None:
    """The trainer gives the weights a new number after a step that only ranked; the
    snapshot a guard restores still follows the optimiser steps (every 2 here)."""
    learner = TransformerLearner(tiny_config(snapshot_every=2))
    batches = cycle_batches(rounds=4)
    for batch in batches[:2]:
        learner.learn(batch)
        learner.version += 1  # as the trainer does after a ranking-only step
    good = {k: v.clone() for k, v in learner.model.state_dict().items()}
    with torch.no_grad():
        learner.model.action_head.weight.fill_(float("nan"))
    assert learner.learn(batches[2]).skipped
    restored = learner.model.state_dict()
    assert all(torch.equal(restored[k], good[k]) for k in good)


def test_a_batch_is_never_scored_with_weights_that_already_learned_it() -> None:
    learner = TransformerLearner(tiny_config())
    batches = cycle_batches()
    learner.learn(batches[0])
    expected = learner.evaluate(batches[1])  # the current weights, nothing learned
    expected_recs = learner.recommend(batches[1], k=5)
    report = learner.learn(batches[1], k=5)
    assert report.overall == expected.overall
    assert report.recommendations == expected_recs
    assert learner.evaluate(batches[1]).overall != expected.overall  # it did learn


def test_new_items_grow_the_table_and_keep_learned_rows() -> None:
    learner = TransformerLearner(tiny_config())
    learner.learn(cycle_batches(items=30)[0])
    rows = learner.model.item_embeddings.shape[0]
    learned = learner.model.item_embeddings.detach()[3:20].clone()
    big = cycle_batches(items=3_000, users=200)[0]
    learner.learn(big)
    assert learner.model.item_embeddings.shape[0] >= learner.vocab.num_rows > rows
    assert learner.model.item_embeddings.shape[0] == learner.vocab.capacity
    state = learner.table.sparse_optimizer.state[learner.model.item_embeddings]
    assert state["exp_avg"].shape == learner.model.item_embeddings.shape
    # Rows learned before the growth are still there (only rows touched since changed).
    untouched = [
        r for r in range(3, 20) if learner.vocab.item_at(r) not in {i for s in big for i in s.items}
    ]
    current = learner.model.item_embeddings.detach()
    assert all(torch.equal(current[r], learned[r - 3]) for r in untouched)


def test_evaluate_can_admit_new_items_and_changes_nothing_else() -> None:
    learner = TransformerLearner(tiny_config())
    learner.learn(cycle_batches(items=30)[0])
    rows = learner.vocab.num_rows
    before = learner.model.item_embeddings.detach()[:rows].clone()
    transitions = learner.table.transitions
    assert transitions is not None
    counted = transitions.weights.sum().item()
    # A repeat of an item first seen in this batch: only an admitted item can be ranked.
    fresh = UserSequence("user-new", ["fresh-a", "fresh-b", "fresh-a"], ["view"] * 3,
                         [1.0, 2.0, 3.0], new_count=1)  # fmt: skip
    assert learner.evaluate([fresh]).cold == 1
    admitted = learner.evaluate([fresh], admit_items=True)
    assert admitted.cold == 0 and admitted.evaluated == 1
    assert learner.vocab.lookup(["fresh-a"])[0] >= RESERVED
    assert learner.version == 1  # no step, no counts
    assert transitions.weights.sum().item() == counted
    assert torch.equal(learner.model.item_embeddings.detach()[:rows], before)


def test_evaluate_refuses_to_admit_alone_in_a_trainer_group() -> None:
    learner = TransformerLearner(tiny_config())
    learner.replicas = cast(ReplicaGroup, object())  # never called: refused before
    with pytest.raises(ValueError, match="admit"):
        learner.evaluate(cycle_batches()[0], admit_items=True)
