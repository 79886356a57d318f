"""Learner replicas in a real two-process gloo group: they stay identical, whatever each
rank's share of a step (none, a failing one), and together they learn what one learner
learns from both ranks' users."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from model.contract import UserSequence
from model.item_admission import ContentUpdate
from model.item_content import content_hash
from model.learner_config import LearnerConfig
from model.replica_group import ReplicaGroup
from model.state_io import read_state
from model.transformer_learner import TransformerLearner
from model.vocabulary import VocabularyConfig
from tests.unit.model.helpers import cycle_batches, tiny_config

WORLD = 2
# Dropout off and no replay: what remains differs between one process and two only in
# the order floats are added.
CONFIG = {"replay_ratio": 0.0}


def _steps(grows: bool = False) -> list[list[list[UserSequence]]]:
    """Per step, each rank's batch: both busy, one idle, both busy (other users); with
    ``grows`` a fourth step brings 40 new items (after the ranks drew unequally)."""
    rounds = cycle_batches(users=12, rounds=3)
    steps = [
        [rounds[0][:6], rounds[0][6:]],
        [rounds[1][:7], []],
        [rounds[2][5:], rounds[2][:5]],
    ]
    if grows:
        fresh = [UserSequence(f"user-{u}", [f"fresh-{u}-{j}" for j in range(4)], ["view"] * 4,
                              [5_000.0 + j for j in range(4)], 4) for u in range(10)]  # fmt: skip
        steps.append([fresh[:5], fresh[5:]])
    return steps


CONTENT_DIM = 4


def _content(item: str, topic: int) -> ContentUpdate:
    vector = torch.zeros(CONTENT_DIM)
    vector[topic] = 1.0
    return ContentUpdate(item, content_hash(f"{item}:{topic}"), vector)


# Per step, each rank's catalogue records: as each rank reads the whole catalogue at its own
# pace, the same record reaches the ranks at different steps, and an item's content changes.
CATALOGUE = [
    [[_content("c0", 0), _content("c1", 1)], []],
    [[_content("c2", 2)], [_content("c1", 1), _content("c2", 2), _content("c0", 0)]],
    [[], [_content("c0", 3)]],
]


def _replica(
    rank: int, store: str, out: str, fail_at: int | None, grows: bool, content: bool = False,
    online: str = "full",
) -> None:  # fmt: skip
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=WORLD, timeout=timedelta(seconds=60))  # fmt: skip
    torch.set_num_threads(1)
    config = _content_config() if content else _config(grows)
    learner = TransformerLearner(dataclasses.replace(config, online=online))
    learner.replicas = ReplicaGroup(torch.device("cpu"))
    failures = []
    for step, batches in enumerate(_steps(grows)):
        if content:
            learner.queue_content(CATALOGUE[step][rank])
        if rank == 1 and step == fail_at:
            learner._score = _broken  # type: ignore[method-assign]
        try:
            learner.learn(batches[rank], k=3)
        except ValueError as exc:
            failures.append(str(exc))
        learner.__dict__.pop("_score", None)
    learner.save(Path(out) / f"rank{rank}")
    stats = learner.replicas.take_stats()
    info = {"fingerprint": learner.fingerprint(), "failures": failures,
            "collectives": stats.collectives, "bytes": stats.bytes}  # fmt: skip
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(info))
    dist.destroy_process_group()


def _broken(*_args: Any, **_kwargs: Any) -> Any:
    raise ValueError("poison on rank 1")


def _config(grows: bool) -> LearnerConfig:
    """With ``grows``: a table that doubles twice, dropout and replay, so each rank draws
    a different amount from torch's generator before the table grows."""
    if not grows:
        return tiny_config(**CONFIG)
    base = tiny_config(replay_ratio=1.0, vocabulary=VocabularyConfig(initial_capacity=40))
    return dataclasses.replace(base, model=dataclasses.replace(base.model, dropout=0.2))


def _content_config() -> LearnerConfig:
    base = tiny_config(**CONFIG)
    return dataclasses.replace(base, model=dataclasses.replace(base.model, content_dim=CONTENT_DIM))


def _run_group(
    tmp_path: Path, fail_at: int | None = None, grows: bool = False, content: bool = False,
    online: str = "full",
) -> list[dict[str, Any]]:  # fmt: skip
    args = (str(tmp_path / "store"), str(tmp_path), fail_at, grows, content, online)
    mp.spawn(_replica, args=args, nprocs=WORLD)  # type: ignore[attr-defined,no-untyped-call]
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]


def _state(directory: Path) -> dict[str, Any]:
    tensors, meta = read_state(directory)
    return tensors | meta


def test_two_replicas_stay_identical_and_learn_what_one_learner_learns(tmp_path: Path) -> None:
    infos = _run_group(tmp_path)
    assert infos[0]["fingerprint"] == infos[1]["fingerprint"]
    assert infos[0]["collectives"] >= 3 * 2  # a gather and a reduction per step, idle too
    first, second = _state(tmp_path / "rank0"), _state(tmp_path / "rank1")
    weights = [k for k in first if k.startswith("model.")]
    assert weights and all(torch.equal(first[k], second[k]) for k in weights)
    assert first["vocabulary"]["id_of"] == second["vocabulary"]["id_of"]
    assert first["version"] == second["version"] == 3

    alone = TransformerLearner(tiny_config(**CONFIG))
    for batches in _steps():
        alone.learn([seq for batch in batches for seq in batch], k=3)
    assert alone.vocab.id_of == first["vocabulary"]["id_of"]
    reference = alone.state_dict()
    for key in weights:
        assert torch.allclose(first[key], reference[key], atol=2e-5), key
    assert torch.equal(first["counts"], reference["counts"])


def test_a_rank_whose_step_fails_still_takes_part_and_the_replicas_stay_identical(
    tmp_path: Path,
) -> None:
    infos = _run_group(tmp_path, fail_at=2)
    assert infos[1]["failures"] == ["poison on rank 1"] and infos[0]["failures"] == []
    assert infos[0]["fingerprint"] == infos[1]["fingerprint"]
    state = _state(tmp_path / "rank0")
    assert state["version"] == 3  # the step went on with rank 0's users


@pytest.mark.parametrize("online", ["full", "adapters"])
def test_replicas_stay_identical_through_growth_dropout_and_replay(
    tmp_path: Path, online: str
) -> None:
    infos = _run_group(tmp_path, grows=True, online=online)
    assert infos[0]["fingerprint"] == infos[1]["fingerprint"]
    state, other = _state(tmp_path / "rank0"), _state(tmp_path / "rank1")
    assert state["model.item_embeddings"].shape[0] > 40  # the table grew in the last step
    if online == "adapters":  # item rows learn as codes (model/item_codes.py), alike
        codes = state["model.item_codes.codes"]
        assert codes.shape[0] == state["model.item_embeddings"].shape[0] and codes.any()
        assert torch.equal(codes, other["model.item_codes.codes"])


def test_replicas_apply_catalogue_content_alike_whenever_each_rank_reads_it(
    tmp_path: Path,
) -> None:
    infos = _run_group(tmp_path, content=True)
    assert infos[0]["fingerprint"] == infos[1]["fingerprint"]
    first, second = _state(tmp_path / "rank0"), _state(tmp_path / "rank1")
    assert first["vocabulary"]["id_of"] == second["vocabulary"]["id_of"]
    for key in ("content.vectors", "content.hashes", "events"):
        assert torch.equal(first[key], second[key]), key
    row = first["vocabulary"]["id_of"].index("c0")
    assert int(first["content.hashes"][row]) == content_hash("c0:3")  # the newest record
    assert float(first["content.vectors"][row, 3]) == 1.0


def test_a_rank_alone_is_no_group() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORLD_SIZE", "1")
        assert ReplicaGroup.join("gloo", 5.0, torch.device("cpu")) is None
