"""Every model behind the one contract: learn, recommend, checkpoint, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from model.baselines.retrain import RetrainSchedule
from model.contract import Learner
from model.names import MODEL_NAMES
from model.registry import BaselineOptions, build_learner, load_learner
from tests.unit.model.helpers import cycle_batches, tiny_config

OPTIONS = BaselineOptions(
    frozen_warmup_events=100, retrain=RetrainSchedule(every_events=150, epochs=1, batch_size=8)
)


def trained(name: str) -> tuple[Learner, list]:  # type: ignore[type-arg]
    learner = build_learner(name, tiny_config(), OPTIONS)
    batches = cycle_batches()
    reports = [learner.learn(batch, k=5) for batch in batches]
    return learner, reports


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_learn_gives_a_finite_loss_or_a_clear_no_op(name: str) -> None:
    _learner, reports = trained(name)
    for report in reports:
        assert report.evaluated == sum(s.new_count for s in cycle_batches()[0])
        assert not report.skipped
        assert all(math.isfinite(v) for v in report.losses.values())
        assert len(report.recommendations) == report.sequences


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_recommend_gives_k_unique_known_ids(name: str) -> None:
    learner, _ = trained(name)
    known = {item for batch in cycle_batches() for s in batch for item in s.items}
    history = cycle_batches()[-1][:4]
    for rec in learner.recommend(history, k=10):
        assert len(rec.items) == 10
        assert len(set(rec.items)) == 10
        assert set(rec.items) <= known
        assert rec.scores == sorted(rec.scores, reverse=True)
    excluded = [list(s.items) for s in history]
    for rec, banned in zip(
        learner.recommend(history, k=5, exclude=excluded), excluded, strict=True
    ):
        assert len(rec.items) == 5 and not set(rec.items) & set(banned)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_checkpoint_round_trip_gives_identical_recommendations(name: str, tmp_path: Path) -> None:
    learner, _ = trained(name)
    learner.save(tmp_path / "ckpt")
    files = {p.suffix for p in (tmp_path / "ckpt").rglob("*") if p.is_file()}
    assert files <= {".json", ".safetensors"}, "safetensors + JSON only, never pickle"
    restored = load_learner(tmp_path / "ckpt")
    history = cycle_batches()[-1]
    assert restored.recommend(history, k=7) == learner.recommend(history, k=7)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_fixed_seed_gives_identical_reports(name: str) -> None:
    _, first = trained(name)
    _, second = trained(name)
    assert [r.overall for r in first] == [r.overall for r in second]
    assert [r.losses for r in first] == [r.losses for r in second]


def test_the_transformer_learns_a_sequential_pattern() -> None:
    learner = build_learner("transformer", tiny_config(learning_rate=3e-2))
    batches = cycle_batches(rounds=3)
    before = learner.learn(batches[0])
    for step in range(80):
        learner.learn(batches[step % 3])
    after = learner.learn(batches[1])  # ranked before it is learned again
    assert before.overall.means()["ndcg@10"] < 0.05
    assert after.overall.means()["ndcg@10"] > 0.5
