"""Full + delta checkpoints: bit-identical round trips, damage detected and survived,
atomic writes, retention."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest
import torch

from model.checkpoints.checkpointer import LearnerCheckpointer, apply_delta
from model.checkpoints.store import CheckpointStore, _checksum, _sha256
from model.dirty_rows import COUNTS, EMBEDDINGS, TRANSITION_SLOTS, WEIGHTS
from model.learner_config import config_from_json, config_to_json
from model.state_io import split_state
from model.transformer_learner import TransformerLearner
from model.vocabulary import VocabularyConfig
from tests.unit.model.helpers import cycle_batches, tiny_config


def config() -> object:
    # Growth (8 initial rows), eviction, sampled negatives and dropout: every kind of
    # state change and every random generator a resumed run must reproduce.
    return tiny_config(
        vocabulary=VocabularyConfig(initial_capacity=8, evict_after_s=2_500.0),
        full_softmax_max_items=5, num_negatives=7, replay_capacity=20,
        model=tiny_config().model.__class__(hidden_size=16, num_layers=1, num_heads=2,
                                            max_len=12, dropout=0.2),
    )  # fmt: skip


def batches(rounds: int) -> list:  # type: ignore[type-arg]
    return cycle_batches(users=10, items=60, rounds=rounds)


def assert_same_state(a: TransformerLearner, b: TransformerLearner) -> None:
    ta, ma = split_state(a.state_dict())
    tb, mb = split_state(b.state_dict())
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)


def trained_with_checkpoints(
    tmp_path: Path, full_every: int = 10
) -> tuple[TransformerLearner, LearnerCheckpointer, CheckpointStore]:
    torch.manual_seed(0)
    learner = TransformerLearner(config())  # type: ignore[arg-type]
    store = CheckpointStore(tmp_path / "ckpt", keep_chains=5)
    checkpointer = LearnerCheckpointer(store, full_every=full_every)
    for index, batch in enumerate(batches(8)):
        learner.learn(batch)
        if index % 2 == 1:
            checkpointer.save(learner, {"offsets": {"0": index}})
    return learner, checkpointer, store


def test_full_plus_deltas_restore_bit_identical(tmp_path: Path) -> None:
    learner, _checkpointer, store = trained_with_checkpoints(tmp_path)
    kinds = [info.kind for info in store.checkpoints()]
    assert kinds == ["full", "delta", "delta", "delta"]
    assert len(learner.vocab) > 8  # the table grew between checkpoints
    restored = LearnerCheckpointer(store).restore()
    assert restored is not None
    copy, info, problems = restored
    assert problems == [] and info.model_version == learner.version
    assert info.extra["offsets"] == {"0": 7}
    assert_same_state(learner, copy)
    histories = batches(9)[8]
    assert learner.recommend(histories, 5) == copy.recommend(histories, 5)
    # Resumed training is the same training, generators included. Both learners share
    # this process's global generator (dropout), which a restore set to the saved state.
    global_rng = torch.get_rng_state()
    learner.learn(histories)
    torch.set_rng_state(global_rng)
    copy.learn(histories)
    assert_same_state(learner, copy)


def test_deltas_are_smaller_than_full_snapshots_when_few_rows_change(tmp_path: Path) -> None:
    torch.manual_seed(0)
    learner = TransformerLearner(
        tiny_config(
            vocabulary=VocabularyConfig(initial_capacity=8),
            full_softmax_max_items=5,
            num_negatives=3,
        )
    )
    big = cycle_batches(users=40, items=2_000, rounds=1)[0]
    learner.learn(big)  # many items
    store = CheckpointStore(tmp_path / "ckpt")
    checkpointer = LearnerCheckpointer(store)
    full = checkpointer.save(learner, {})
    learner.learn(cycle_batches(users=2, items=2_000, rounds=1)[0])  # touches few rows
    delta = checkpointer.save(learner, {})
    assert delta.kind == "delta"
    assert delta.extra["vocabulary"]["rows_changed"] < full.extra["vocabulary"]["vocabulary_size"]
    assert delta.bytes < full.bytes / 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing_delta"])
def test_damage_is_reported_and_the_newest_consistent_checkpoint_wins(
    tmp_path: Path, damage: str
) -> None:
    _learner, _c, store = trained_with_checkpoints(tmp_path)
    infos = store.checkpoints()
    victim = infos[2]  # the second delta
    tensors = victim.path / "tensors.safetensors"
    if damage == "flip":
        data = bytearray(tensors.read_bytes())
        data[len(data) // 2] ^= 0x01
        tensors.write_bytes(bytes(data))
    elif damage == "truncate":
        tensors.write_bytes(tensors.read_bytes()[:-100])
    else:
        for file in victim.path.iterdir():
            file.unlink()
        victim.path.rmdir()
    restored = LearnerCheckpointer(store).restore()
    assert restored is not None
    _copy, info, problems = restored
    assert info.name == infos[1].name  # the newest one whose whole chain is intact
    expected = {"flip": "hash mismatch", "truncate": "truncated", "missing_delta": "missing"}
    assert any(expected[damage] in problem for problem in problems), problems


def test_checkpoints_with_a_plain_json_state_still_restore(tmp_path: Path) -> None:
    """Stores written before the state was gzipped hold state.json."""
    learner, _checkpointer, store = trained_with_checkpoints(tmp_path)
    for info in store.checkpoints():
        zipped = info.path / "state.json.gz"
        plain = info.path / "state.json"
        plain.write_bytes(gzip.decompress(zipped.read_bytes()))
        zipped.unlink()
        manifest = json.loads((info.path / "manifest.json").read_text())
        body = {k: v for k, v in manifest.items() if k != "checksum"}
        body["files"] = {("state.json" if name == "state.json.gz" else name): entry
                         for name, entry in body["files"].items()}  # fmt: skip
        body["files"]["state.json"] = {"sha256": _sha256(plain), "bytes": plain.stat().st_size}
        (info.path / "manifest.json").write_text(json.dumps({**body, "checksum": _checksum(body)}))
    restored = LearnerCheckpointer(CheckpointStore(store.root, keep_chains=5)).restore()
    assert restored is not None and restored[2] == []
    assert_same_state(learner, restored[0])


def test_a_corrupt_full_snapshot_falls_back_to_the_previous_chain(tmp_path: Path) -> None:
    _learner, _c, store = trained_with_checkpoints(tmp_path, full_every=2)
    infos = store.checkpoints()
    assert [i.kind for i in infos] == ["full", "delta", "full", "delta"]
    (infos[2].path / "state.json.gz").write_bytes(gzip.compress(b"{}"))
    restored = LearnerCheckpointer(store).restore()
    assert restored is not None and restored[1].name == infos[1].name
    assert any(infos[2].name in p for p in restored[2])


def test_a_crash_before_the_rename_leaves_no_checkpoint(tmp_path: Path) -> None:
    learner, checkpointer, store = trained_with_checkpoints(tmp_path)
    before = [info.name for info in store.checkpoints()]
    learner.learn(batches(9)[8])

    def crash(_tmp: Path) -> None:
        raise KeyboardInterrupt("power cut between write and rename")

    with pytest.raises(KeyboardInterrupt):
        store.write("full", {"x": torch.zeros(1)}, {}, learner.version, None, {},
                    before_commit=crash)  # fmt: skip
    assert [info.name for info in store.checkpoints()] == before
    assert list(store.root.glob(".tmp-*"))  # the half-written folder is there, ignored
    restored = LearnerCheckpointer(store).restore()
    assert restored is not None and restored[1].name == before[-1]
    checkpointer.save(learner, {})  # later writes work and the leftover is cleaned up
    store.prune()
    assert len(store.checkpoints()) == len(before) + 1


def test_retention_keeps_the_last_chains(tmp_path: Path) -> None:
    torch.manual_seed(0)
    learner = TransformerLearner(tiny_config())
    store = CheckpointStore(tmp_path / "ckpt", keep_chains=2)
    checkpointer = LearnerCheckpointer(store, full_every=2)
    for batch in batches(10):
        learner.learn(batch)
        checkpointer.save(learner, {})
    chains = {info.chain for info in store.checkpoints()}
    assert len(chains) == 2
    assert [i.kind for i in store.checkpoints()] == ["full", "delta", "full", "delta"]


def test_a_config_from_before_item_row_updates_resumes_moving_every_row() -> None:
    saved = config_to_json(tiny_config())
    assert config_from_json(saved).item_row_updates == "targets"  # today's default
    del saved["item_row_updates"]
    assert config_from_json(saved).item_row_updates == "all"


def test_each_row_tensor_is_stored_at_its_own_changed_rows_and_old_deltas_still_apply(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    learner = TransformerLearner(tiny_config(vocabulary=VocabularyConfig(initial_capacity=8),
                                             replay_capacity=0))  # fmt: skip
    store = CheckpointStore(tmp_path / "ckpt")
    checkpointer = LearnerCheckpointer(store)
    first, second = cycle_batches(users=10, items=60, rounds=2)
    learner.learn(first)
    full = checkpointer.save(learner, {})
    learner.learn([dataclasses.replace(seq, new_count=2) for seq in second])  # 2 new events each
    first_delta = checkpointer.save(learner, {})
    base, base_meta = store.read(full)
    delta, state = store.read(first_delta)
    want, want_meta = apply_delta(base, base_meta, delta, state)
    by_kind = {kind: set(delta[f"rows.index.{kind}"].tolist())
               for kind in (EMBEDDINGS, WEIGHTS, COUNTS)}  # fmt: skip
    # Successor lists are stored by the slots that changed, not whole.
    width = learner.config.transition_neighbours
    slots = delta[f"rows.index.{TRANSITION_SLOTS}"]
    sources = {int(slot) // width for slot in slots}
    assert 0 < slots.numel() < len(sources) * width
    assert delta["rows.transitions.rows"].shape == slots.shape
    every = sorted(set().union(*by_kind.values(), sources))
    # Rows whose count or successor list changed but whose weights did not move: the
    # delta does not carry their embedding and moments.
    assert len(by_kind[WEIGHTS]) < len(every)
    assert delta["rows.model.item_embeddings"].shape[0] == len(by_kind[EMBEDDINGS])
    # A delta from before kinds (one index for every row tensor) gives the same state.
    index = torch.tensor(every)
    old = {k: v for k, v in delta.items() if not k.startswith("rows.")}
    old |= {f"rows.{key}": want[key][index] for key in state["row_keys"]}
    old["rows.index"] = index
    got, got_meta = apply_delta(base, base_meta, old,
                                {k: v for k, v in state.items() if k != "row_kinds"})  # fmt: skip
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert json.dumps(got_meta, sort_keys=True) == json.dumps(want_meta, sort_keys=True)
