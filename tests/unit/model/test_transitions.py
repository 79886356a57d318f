"""Item-to-item transitions in the model's ranking: the counts, the merged bonus, learning,
checkpoints."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointStore
from model.contract import UserSequence
from model.ranking_metrics import RankingSums
from model.repeat_bonus import HistoryBonus
from model.transformer_learner import TransformerLearner
from model.transition_prior import with_successors
from model.transition_table import TransitionTable
from model.vocabulary import RESERVED, VocabularyConfig
from tests.unit.model.helpers import cycle_batches, tiny_config
from tests.unit.model.test_checkpoints import assert_same_state

A, B, C, D, E = (RESERVED + i for i in range(5))


def test_pairs_count_one_over_distance_and_skip_repeats_and_unknown_rows() -> None:
    table = TransitionTable(rows=RESERVED + 8, width=4, distance=2)
    changed = table.add([([A, B, B, C], 2)])  # new: the second B and C
    successors, counts = table.lookup(torch.tensor([A, B]))
    # A's first slot (B), B's first slot (C): flat slots of the (rows, 4) lists.
    assert changed.tolist() == [A * 4, B * 4]
    got_a = dict(zip(successors[0].tolist(), counts[0].tolist(), strict=True))
    got_b = dict(zip(successors[1].tolist(), counts[1].tolist(), strict=True))
    assert got_a[B] == 0.5  # A -> B two steps back; B -> B is no transition
    assert C not in got_a  # C is three steps after A: beyond the distance
    assert got_b[C] == 1.5  # B -> C at distances 1 and 2
    table.add([([1, C, D], 2)])  # row 1 (unknown) is no source
    assert table.lookup(torch.tensor([1]))[1].sum() == 0


def test_a_full_list_replaces_its_smallest_successor_and_the_newcomer_keeps_its_own_count() -> None:
    table = TransitionTable(rows=RESERVED + 8, width=2, distance=1)
    table.add([([A, B], 1), ([A, B], 1), ([A, C], 1)])
    changed = table.add([([A, D], 1)])  # list full: C (the smallest) leaves, D counts 1
    successors, counts = table.lookup(torch.tensor(A))
    assert list(zip(successors.tolist(), counts.tolist(), strict=True)) == [(B, 2.0), (D, 1.0)]
    assert changed.tolist() == [A * 2 + 1]


def test_of_equal_counts_the_oldest_successor_leaves_and_the_newcomer_enters_last() -> None:
    table = TransitionTable(rows=RESERVED + 8, width=3, distance=1)
    table.add([([A, B], 1), ([A, C], 1), ([A, D], 1)])  # full: B, C, D, one each
    changed = table.add([([A, E], 1)])  # B, the oldest, leaves; C and D move up
    successors, counts = table.lookup(torch.tensor(A))
    assert successors.tolist() == [C, D, E] and counts.tolist() == [1.0, 1.0, 1.0]
    assert changed.tolist() == [A * 3, A * 3 + 1, A * 3 + 2]
    table.add([([A, B], 1)])  # B again: now C is the oldest of the smallest
    assert table.lookup(torch.tensor(A))[0].tolist() == [D, E, B]


def test_clearing_a_row_removes_it_as_a_source_and_as_a_successor() -> None:
    table = TransitionTable(rows=RESERVED + 8, width=4, distance=1)
    table.add([([A, B, C], 2), ([D, B], 1)])
    # B's whole list, and the slot that names B in A's and D's lists.
    assert table.clear([B]).tolist() == [A * 4, B * 4, B * 4 + 1, B * 4 + 2, B * 4 + 3, D * 4]
    assert table.weights[[A, B, D]].sum() == 0


def test_the_merged_bonus_adds_transitions_to_repeats_and_keeps_the_largest_repeat() -> None:
    inf = float("-inf")
    # One output: history A (repeat 2.0), B (1.0), A again (0.5: the largest counts).
    history = HistoryBonus(torch.tensor([[2.0, 1.0, 0.5, inf]]), torch.tensor([[A, B, A, E]]))
    # Successors: B (0.3), C (0.7) and C again from an older item (0.2); D not real.
    rows = torch.tensor([[B, C, C, D]])
    bonus = torch.tensor([[0.3, 0.7, 0.2, 9.0]])
    has = torch.tensor([[True, True, True, False]])
    merged = with_successors(history, rows, bonus, has)
    by_row = {r: v for r, v in zip(merged.rows[0].tolist(), merged.logits[0].tolist(),
                                   strict=True)}  # fmt: skip
    assert by_row[A] == 2.0
    assert math.isclose(by_row[B], 1.3, rel_tol=1e-6)
    assert math.isclose(by_row[C], 0.9, rel_tol=1e-6)
    assert by_row[D] == inf and by_row[E] == inf
    # Ranking reads the merged bonus once per row, at its largest.
    candidates = torch.tensor([A, B, C, D, E])
    assert torch.allclose(merged.per_candidate(candidates, 0),
                          torch.tensor([[2.0, 1.3, 0.9, inf, inf]]), rtol=1e-6)  # fmt: skip


def _walks(rounds: int) -> list[list[UserSequence]]:
    """Users who each walk a -> b -> c ... over a small catalogue: transitions say it all."""
    return cycle_batches(users=16, length=8, items=40, rounds=rounds)


def test_a_learner_counts_transitions_after_the_step_and_ranks_with_them() -> None:
    learner = TransformerLearner(tiny_config(vocabulary=VocabularyConfig(initial_capacity=64)))
    assert learner.table.transitions is not None
    first = _walks(1)[0]
    before = learner.table.transitions.weights.clone()
    learner.learn(first)
    # Counted once the step was done: what it ranked did not know them yet.
    assert not torch.equal(before, learner.table.transitions.weights)
    seq = first[0]
    rows = learner.vocab.lookup(seq.items)
    successors, counts = learner.table.transitions.lookup(torch.tensor(rows[-2]))
    assert rows[-1] in successors[counts > 0].tolist()


def _online_ndcg(transition_items: int, rounds: int = 3) -> tuple[float, TransformerLearner]:
    base = tiny_config(vocabulary=VocabularyConfig(initial_capacity=64))
    model = dataclasses.replace(base.model, transition_items=transition_items)
    torch.manual_seed(0)
    learner = TransformerLearner(dataclasses.replace(base, model=model))
    sums = RankingSums()
    for batch in _walks(rounds):
        sums.merge(learner.learn(batch).overall)
    return sums.means()["ndcg@10"], learner


def test_transitions_lift_online_quality_on_walks_and_their_weights_learn() -> None:
    without, plain = _online_ndcg(0)
    with_transitions, learner = _online_ndcg(3)
    assert plain.table.transitions is None
    assert with_transitions > without
    start = torch.tensor([1.0, 1 / 2, 1 / 3])
    assert not torch.allclose(learner.model.transition_weights.detach(), start)


def test_checkpoints_restore_the_transition_lists_exactly(tmp_path: Path) -> None:
    learner = TransformerLearner(tiny_config(vocabulary=VocabularyConfig(initial_capacity=8)))
    checkpointer = LearnerCheckpointer(CheckpointStore(tmp_path))
    batches = _walks(3)
    learner.learn(batches[0])
    checkpointer.save(learner, {})
    learner.learn(batches[1])
    info = checkpointer.save(learner, {})  # a delta: the lists that changed, row by row
    delta, _state = checkpointer.store.read(info)
    assert "rows.transitions.rows" in delta
    back = LearnerCheckpointer(CheckpointStore(tmp_path)).restore()
    assert back is not None and back[2] == []
    restored = back[0]
    assert_same_state(learner, restored)
    assert learner.table.transitions is not None and restored.table.transitions is not None
    assert torch.equal(learner.table.transitions.rows, restored.table.transitions.rows)
    assert torch.equal(learner.table.transitions.weights, restored.table.transitions.weights)
