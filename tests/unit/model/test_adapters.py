"""Online learning with LoRA adapters (model/adapters.py): what trains, what stays
frozen, consolidation, and delta checkpoints that hold only what moved."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from model.adapters import AdapterConfig
from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointStore
from model.contract import UserSequence
from model.dirty_rows import COUNTS, EMBEDDINGS, TRANSITION_SLOTS, WEIGHTS
from model.transformer_learner import TransformerLearner
from model.vocabulary import RESERVED, VocabularyConfig
from tests.unit.model.helpers import cycle_batches, tiny_config
from tests.unit.model.test_checkpoints import assert_same_state

FROZEN_PARTS = ("q_proj.base_layer", "k_proj.base_layer", "v_proj.base_layer",
                "o_proj.base_layer", "gate_proj.base_layer", "up_proj.base_layer",
                "down_proj.base_layer", "norm")  # fmt: skip


def adapters_learner(**changes: object) -> TransformerLearner:
    torch.manual_seed(0)
    return TransformerLearner(
        tiny_config(**{"online": "adapters", "adapters": AdapterConfig(rank=4), **changes})
    )


@pytest.mark.parametrize("item_rank", [8, 0])
def test_adapters_train_only_the_adapters_item_rows_embeddings_and_heads(item_rank: int) -> None:
    learner = adapters_learner(adapters=AdapterConfig(rank=4, item_rank=item_rank))
    batches = cycle_batches(rounds=3)
    learner.learn(batches[0])  # admits the items: their table rows are drawn now
    names = dict(learner.model.named_parameters())
    trainable = {name for name, p in names.items() if p.requires_grad}
    decoder = {name for name in names if name.startswith("decoder.")}
    assert {name for name in decoder if name in trainable} == {
        name for name in decoder if ".lora_A." in name or ".lora_B." in name
    }
    assert any(".lora_A." in name for name in trainable)
    heads = ("purchase_projection.weight", "action_head.weight", "repeat_key.weight")
    # Item rows learn as codes over a frozen table (model/item_codes.py), or whole.
    rows = ("item_codes.codes", "item_codes.projection") if item_rank else ("item_embeddings",)
    for kept in (*rows, "action_embeddings.weight", *heads):
        assert kept in trainable, kept
    assert ("item_embeddings" in trainable) == (item_rank == 0)
    frozen = {name: p.detach().clone() for name, p in names.items() if not p.requires_grad}
    assert any(part in name for name in frozen for part in FROZEN_PARTS)
    adapters = {n: p.detach().clone() for n, p in names.items() if ".lora_B." in n}
    for batch in batches[1:]:  # the same items: no new rows drawn
        learner.learn(batch)
    for name, before in frozen.items():
        assert torch.equal(names[name], before), f"{name} moved"
    assert any(not torch.equal(names[n], before) for n, before in adapters.items())
    if item_rank:
        assert learner.model.item_codes is not None and learner.model.item_codes.codes.any()


def test_consolidation_merges_exactly_and_starts_fresh_adapters() -> None:
    learner = adapters_learner()
    for batch in cycle_batches(rounds=3):
        learner.learn(batch)
    histories = cycle_batches(rounds=4)[3]
    before = learner.recommend(histories, 10)
    base = {n: p.detach().clone() for n, p in learner.model.named_parameters()
            if ".base_layer." in n}  # fmt: skip
    table = learner.model.item_embeddings.detach().clone()
    assert learner.model.item_codes is not None and learner.model.item_codes.codes.any()
    assert learner.consolidate()
    after = learner.recommend(histories, 10)
    for a, b in zip(before, after, strict=True):
        assert a.items == b.items
        assert torch.allclose(torch.tensor(a.scores), torch.tensor(b.scores), atol=1e-5)
    params = dict(learner.model.named_parameters())
    assert all(not params[n].any() for n in params if ".lora_B." in n)  # fresh: B = 0
    assert any(not torch.equal(params[n], w) for n, w in base.items())  # the backbone moved
    assert not params["item_codes.codes"].any()  # the codes are in the table now
    assert not torch.equal(learner.model.item_embeddings, table)
    learner.learn(histories)  # and learning goes on from the merged backbone
    assert any(params[n].any() for n in params if ".lora_B." in n)


def test_a_pretrained_full_model_switches_to_adapters_computing_the_same() -> None:
    torch.manual_seed(0)
    learner = TransformerLearner(tiny_config())
    for batch in cycle_batches(rounds=3):
        learner.learn(batch)
    histories = cycle_batches(rounds=4)[3]
    before = learner.recommend(histories, 10)
    learner.use_adapters(AdapterConfig(rank=4))
    assert learner.config.online == "adapters"
    after = learner.recommend(histories, 10)
    assert [r.items for r in before] == [r.items for r in after]
    learner.learn(histories)  # trains, and its state round-trips as an adapters learner
    copy = TransformerLearner.from_state_dict(learner.state_dict())
    assert_same_state(learner, copy)


def _delta_rows_after_one_step(
    item_row_updates: str, tmp_path: Path
) -> tuple[set[int], set[int], set[int], dict[str, set[int]]]:
    """The rows whose weights a delta holds after one step on two users whose last two
    events are new, the rows of those users' sequences, the rows of their new (target)
    items, and the rows the delta holds of each kind (model/dirty_rows.py)."""
    torch.manual_seed(0)
    learner = TransformerLearner(tiny_config(
        vocabulary=VocabularyConfig(initial_capacity=8), full_softmax_max_items=5,
        num_negatives=64, replay_capacity=0, item_row_updates=item_row_updates,
    ))  # fmt: skip
    learner.learn(cycle_batches(users=40, items=400, rounds=1)[0])
    checkpointer = LearnerCheckpointer(CheckpointStore(tmp_path / item_row_updates))
    checkpointer.save(learner, {})
    step = [dataclasses.replace(seq, new_count=2)
            for seq in cycle_batches(users=2, items=400, rounds=2)[1]]  # fmt: skip
    learner.learn(step)
    info = checkpointer.save(learner, {})
    delta, _state = checkpointer.store.read(info)
    kinds = {key.removeprefix("rows.index."): set(index.tolist())
             for key, index in delta.items() if key.startswith("rows.index.")}  # fmt: skip
    assert learner.table.transitions is not None
    kinds[TRANSITION_SLOTS] = {s // learner.table.transitions.width
                               for s in kinds[TRANSITION_SLOTS]}  # fmt: skip
    assert kinds[EMBEDDINGS] == kinds[WEIGHTS]  # full mode: the table is what learns
    own = set(learner.vocab.lookup([item for seq in step for item in seq.items]))
    targets = set(learner.vocab.lookup([item for seq in step for item in seq.items[-2:]]))
    return kinds[WEIGHTS], own, targets, kinds


def test_rows_touched_only_as_sampled_negatives_stay_out_of_the_delta(tmp_path: Path) -> None:
    held, own, _targets, _kinds = _delta_rows_after_one_step("sequences", tmp_path)
    assert held and held <= own | set(range(RESERVED))  # the start and unknown rows are inputs
    # "all" moves the negatives' rows (and so their moments): the delta holds them.
    held_all, own_all, _targets, _kinds = _delta_rows_after_one_step("all", tmp_path)
    assert len(held_all - own_all) > 20


def test_targets_only_moves_the_predicted_rows_and_not_the_inputs(tmp_path: Path) -> None:
    held, own, targets, kinds = _delta_rows_after_one_step("targets", tmp_path)
    assert held == targets  # every predicted row learned, no other input row moved
    # The items before the new ones: their successor lists changed, and the delta holds
    # those lists, not their weights; the new items' sightings changed, and only theirs.
    sources = kinds[TRANSITION_SLOTS]
    assert sources and sources <= own
    assert sources - held  # held for their lists alone: their weights did not move
    assert kinds[COUNTS] == targets
    held_sequences, _own, _targets, _kinds = _delta_rows_after_one_step("sequences", tmp_path)
    assert held_sequences & (own - targets)  # which "sequences" does move


def test_adapter_checkpoints_restore_exactly_and_skip_the_frozen_backbone(tmp_path: Path) -> None:
    learner = adapters_learner(item_row_updates="sequences")
    store = CheckpointStore(tmp_path / "ckpt")
    checkpointer = LearnerCheckpointer(store, full_every=10)
    batches = cycle_batches(rounds=4)
    learner.learn(batches[0])
    full = checkpointer.save(learner, {})
    for batch in batches[1:]:
        learner.learn(batch)
        delta = checkpointer.save(learner, {})
    tensors, state = store.read(delta)
    assert not any(".base_layer." in key for key in tensors)  # frozen: named, not stored
    assert any(".base_layer." in key for key in state["unchanged"])
    assert any(".lora_B." in key for key in tensors)
    assert delta.bytes < full.bytes / 2
    restored = LearnerCheckpointer(store).restore()
    assert restored is not None
    assert_same_state(learner, restored[0])
    assert restored[0].config == dataclasses.replace(learner.config)


def test_with_item_codes_a_delta_holds_the_moved_rows_codes_and_not_their_table_rows(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    learner = TransformerLearner(tiny_config(replay_capacity=0))
    batches = cycle_batches(rounds=3)
    learner.learn(batches[0])  # a backbone in full mode; admits every item of the cycle
    learner.use_adapters(AdapterConfig(rank=4))
    checkpointer = LearnerCheckpointer(CheckpointStore(tmp_path / "ckpt"))
    checkpointer.save(learner, {})  # before the codes have any optimiser state
    fresh = UserSequence("newcomer", ["fresh-0", "fresh-1", "fresh-2"], ["view"] * 3,
                         [9_000.0, 9_001.0, 9_002.0], 3)  # fmt: skip
    learner.learn([*batches[1], fresh])  # known items learn their codes; three new items
    new_rows = learner.vocab.lookup(fresh.items)
    assert all(row >= RESERVED for row in new_rows)
    # A new item's draw is its code; its table row stays zero, as the spare row was.
    assert not learner.model.item_embeddings[new_rows].any()
    info = checkpointer.save(learner, {})
    delta, _state = checkpointer.store.read(info)
    moved = delta["rows.index.weights"]
    assert set(new_rows) <= set(moved.tolist())
    assert delta["rows.index.embeddings"].numel() == 0
    codes = delta["rows.model.item_codes.codes"]
    assert codes.shape == (moved.numel(), 8) and codes.any()
    assert delta["rows.model.item_embeddings"].numel() == 0  # the table: no row stored
    restored = LearnerCheckpointer(checkpointer.store).restore()
    assert restored is not None
    assert_same_state(learner, restored[0])
