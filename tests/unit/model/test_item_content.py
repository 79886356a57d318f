"""Item content in the learner: catalogue admission, the content prior, item ages,
row reuse, and exact checkpoints of content rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointStore
from model.contract import UserSequence
from model.item_admission import ContentUpdate
from model.item_content import content_hash
from model.item_table import FAST_PARAMETERS
from model.learner_config import LearnerConfig
from model.sequential_recommender import RecommenderConfig
from model.transformer_learner import TransformerLearner
from model.vocabulary import VocabularyConfig
from tests.unit.model.helpers import tiny_config
from tests.unit.model.test_checkpoints import assert_same_state

DIM = 8


def content_config(**changes: object) -> LearnerConfig:
    model = RecommenderConfig(hidden_size=16, num_layers=1, num_heads=2, max_len=12,
                              dropout=0.0, content_dim=DIM)  # fmt: skip
    return tiny_config(model=model, **changes)


def topic_vector(topic: int, noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Unit vectors: one direction per topic, a little noise per item."""
    vector = torch.zeros(DIM)
    vector[topic] = 1.0
    vector += noise * torch.randn(DIM, generator=torch.Generator().manual_seed(seed))
    unit: torch.Tensor = vector / vector.norm()
    return unit


def update(item: str, topic: int, seed: int = 0) -> ContentUpdate:
    vector = topic_vector(topic, 0.1, seed)
    return ContentUpdate(item, content_hash(f"{item} topic {topic}"), vector)


def catalogue(topics: int = 3, per_topic: int = 6) -> list[ContentUpdate]:
    return [
        update(f"t{t}-{i}", t, seed=t * 100 + i) for t in range(topics) for i in range(per_topic)
    ]


def user_batches(rounds: int, topics: int = 3, per_topic: int = 5) -> list[list[UserSequence]]:
    """Users stay in one topic and view its first ``per_topic`` items; item t-5 is never
    in an event."""
    generator = torch.Generator().manual_seed(1)
    batches: list[list[UserSequence]] = []
    history: dict[str, tuple[list[str], list[float]]] = {}
    for r in range(rounds):
        batch = []
        for t in range(topics):
            for u in range(4):
                user = f"u{t}-{u}"
                item = f"t{t}-{int(torch.randint(per_topic, (1,), generator=generator))}"
                items, ts = history.get(user, ([], []))
                items, ts = [*items, item][-10:], [*ts, 100.0 * r][-10:]
                history[user] = (items, ts)
                batch.append(UserSequence(user, items, ["view"] * len(items), ts, new_count=1))
        batches.append(batch)
    return batches


def test_catalogue_items_get_rows_before_any_event_and_reach_users_of_their_topic() -> None:
    learner = TransformerLearner(content_config())
    learner.queue_content(catalogue())
    batches = user_batches(12)
    for batch in batches:
        learner.learn(batch)
    assert "t1-5" in learner.vocab.row_of  # never in an event
    recommendations = learner.recommend(batches[-1], k=8)
    for history, rec in zip(batches[-1], recommendations, strict=True):
        topic = history.user_id[1]
        new = [item for item in rec.items if item.endswith("-5")]
        assert new and new[0] == f"t{topic}-5", (history.user_id, rec.items)


def test_without_the_prior_an_unseen_item_is_not_pulled_up() -> None:
    """The check above can fail: with the prior off, the never-seen items do not lead."""
    learner = TransformerLearner(content_config(content_bonus=0.0))
    learner.queue_content(catalogue())
    batches = user_batches(12)
    for batch in batches:
        learner.learn(batch)
    recommendations = learner.recommend(batches[-1], k=8)
    led = sum(
        bool(new := [i for i in rec.items if i.endswith("-5")]) and new[0] == f"t{h.user_id[1]}-5"
        for h, rec in zip(batches[-1], recommendations, strict=True)
    )
    assert led < len(recommendations)


def test_unchanged_content_is_not_applied_again_and_changed_content_is() -> None:
    learner = TransformerLearner(content_config())
    first = update("a", 0)
    learner.queue_content([first])
    learner.learn([])
    content = learner.model.content
    assert content is not None
    row = learner.vocab.row_of["a"]
    assert learner.content_hash_of("a") == first.hash
    revision = content.revision
    learner.queue_content([first])
    learner.learn([])
    assert content.revision == revision
    moved = update("a", 1)
    learner.queue_content([moved])
    learner.learn([])
    assert learner.content_hash_of("a") == moved.hash
    assert moved.vector is not None and torch.equal(content.vectors[row], moved.vector)


def test_a_reused_row_starts_without_content() -> None:
    config = content_config(vocabulary=VocabularyConfig(evict_after_s=50.0))
    learner = TransformerLearner(config)
    learner.queue_content([update("old", 0)])
    learner.learn([UserSequence("u", ["old"], ["view"], [0.0], 1)])
    row = learner.vocab.row_of["old"]
    learner.learn([UserSequence("v", ["new"], ["view"], [1_000.0], 1)])  # "old" evicted
    assert learner.vocab.row_of["new"] == row
    assert learner.content_hash_of("new") == 0
    assert learner.model.content is not None and not bool(learner.model.content.has[row])


def test_ids_only_catalogue_admits_items_without_content() -> None:
    learner = TransformerLearner(tiny_config(vocabulary=VocabularyConfig(min_count=3)))
    learner.queue_content([ContentUpdate("x", 0)])
    learner.learn([])
    assert "x" in learner.vocab.row_of  # min_count does not apply to catalogue items


def test_quality_is_split_by_the_target_items_age_in_events() -> None:
    learner = TransformerLearner(content_config())
    learner.queue_content([update("a", 0), update("b", 0)])
    first = learner.learn([UserSequence("u", ["a", "b"], ["view", "view"], [0.0, 1.0], 2)])
    assert {k: s.count for k, s in first.per_age.items()} == {"1": 2}
    # b again twice: its 2nd and 3rd events; a once more: its 2nd.
    second = learner.learn([UserSequence("u", ["a", "b", "b", "a", "b"], ["view"] * 5,
                                         [0.0, 1.0, 2.0, 3.0, 4.0], 3)])  # fmt: skip
    assert {k: s.count for k, s in second.per_age.items()} == {"2-5": 3}
    assert int(learner.table.events[learner.vocab.row_of["b"]]) == 3


def test_the_prior_weight_learns_fast_and_alone_of_its_kind() -> None:
    learner = TransformerLearner(content_config())
    weight = learner.model.content_prior_weight
    assert float(weight.detach()) == learner.config.content_bonus
    groups = learner.table.dense_optimizer.param_groups
    fast = [g for g in groups if any(p is weight for p in g["params"])]
    assert len(fast) == 1 and fast[0]["lr"] > learner.config.learning_rate
    # Only small calibrations of whole signals learn fast (a weight, a bias per distance),
    # never a layer's weights.
    named = dict(learner.model.named_parameters())
    assert "content_prior_weight" in FAST_PARAMETERS
    assert {n for n in named if any(named[n] is p for p in fast[0]["params"])} <= set(
        FAST_PARAMETERS
    )
    assert all(named[n].numel() <= 64 for n in FAST_PARAMETERS if n in named)
    learner.queue_content(catalogue())
    for batch in user_batches(3):
        learner.learn(batch)
    assert float(weight.detach()) != learner.config.content_bonus


def test_content_rows_restore_exactly_and_a_delta_holds_only_changed_rows(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = dataclasses.replace(content_config(), vocabulary=VocabularyConfig(initial_capacity=8))
    learner = TransformerLearner(config)
    store = CheckpointStore(tmp_path / "ckpt", keep_chains=3)
    checkpointer = LearnerCheckpointer(store, full_every=10)
    learner.queue_content(catalogue())
    for batch in user_batches(4):
        learner.learn(batch)
    checkpointer.save(learner, {})
    learner.queue_content([update("late", 2)])  # one new item, no events
    learner.learn([])
    info = checkpointer.save(learner, {})
    assert info.kind == "delta"
    delta, _state = store.read(info)
    assert delta["rows.content.vectors"].shape[0] == 1  # the new item's row only
    restored = LearnerCheckpointer(store).restore()
    assert restored is not None
    copy = restored[0]
    assert_same_state(learner, copy)
    assert copy.content_hash_of("late") == learner.content_hash_of("late") != 0
    histories = user_batches(5)[4]
    assert learner.recommend(histories, 5) == copy.recommend(histories, 5)
