"""What the trainer service relies on: recommendations handed out before the optimiser
step, and a bounded step that still recommends for everyone."""

from __future__ import annotations

from model.contract import Recommendation
from model.registry import build_learner
from model.transformer_learner import TransformerLearner
from tests.unit.model.helpers import cycle_batches, tiny_config


def test_recommendations_come_from_the_weights_before_the_step() -> None:
    learner = TransformerLearner(tiny_config())
    batches = cycle_batches(users=6, rounds=2)
    learner.learn(batches[0])
    seen: list[tuple[list[Recommendation], int]] = []
    before = learner.version
    report = learner.learn(batches[1], k=5, on_recommendations=lambda r, v: seen.append((r, v)))
    assert len(seen) == 1
    recs, version = seen[0]
    assert version == before and report.model_version == before + 1
    assert recs == report.recommendations
    assert [r.user_id for r in recs] == [s.user_id for s in batches[1]]
    assert all(len(r.items) == 5 == len(set(r.items)) for r in recs)


def test_a_train_limit_learns_a_subset_but_recommends_for_all() -> None:
    learner = TransformerLearner(tiny_config(replay_ratio=0.0))
    batch = cycle_batches(users=10, rounds=1)[0]
    report = learner.learn(batch, k=3, train_limit=4)
    assert report.untrained_sequences == 6
    assert len(report.recommendations) == 10
    full = TransformerLearner(tiny_config(replay_ratio=0.0)).learn(batch, k=3)
    assert full.untrained_sequences == 0
    assert 0 < report.trained_positions < full.trained_positions
    assert len(learner.replay) == 10  # what was not learned now can still be replayed


def test_the_stream_chooses_what_a_step_learns_and_replay_only_fills_the_limit() -> None:
    learner = TransformerLearner(tiny_config(replay_ratio=1.0))
    first, second = cycle_batches(users=10, rounds=2)
    learner.learn(first)  # fills the replay buffer
    before = learner.version
    # Rank all ten, learn three of them: the limit of five leaves room for two replays.
    report = learner.learn(second, k=3, train_limit=5, train=second[:3])
    assert len(report.recommendations) == 10 and report.untrained_sequences == 0
    assert report.replayed_sequences == 2 and learner.version == before + 1
    # A step that only catches up: nothing ranked, the queued sequences learned.
    report = learner.learn([], k=3, train_limit=7, train=second[3:])
    assert report.recommendations == [] and report.evaluated == 0
    assert report.trained_positions > 0 and report.replayed_sequences == 0
    assert learner.version == before + 2


def test_a_large_step_ranks_a_sample_of_its_new_events_for_quality() -> None:
    batch = cycle_batches(users=12, rounds=1)[0]
    events = sum(s.new_count for s in batch)
    sampled = TransformerLearner(tiny_config(eval_max_events=5)).learn(batch, k=3)
    everything = TransformerLearner(tiny_config()).learn(batch, k=3)
    assert events > 5 and sampled.evaluated == 5 and everything.evaluated == events
    assert len(sampled.recommendations) == len(everything.recommendations) == 12


def test_baselines_hand_out_recommendations_too() -> None:
    for name in ("popularity", "trending", "recent", "cooc", "frozen", "retrain"):
        learner = build_learner(name, tiny_config())
        seen: list[int] = []

        def sink(recs: list[Recommendation], _version: int, into: list[int] = seen) -> None:
            into.append(len(recs))

        batch = cycle_batches(users=4, rounds=1)[0]
        report = learner.learn(batch, k=3, on_recommendations=sink)
        assert seen == [4], name
        assert len(report.recommendations) == 4, name
