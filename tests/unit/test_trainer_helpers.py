"""The trainer's small parts: recent-quality window, training budget, message format."""

from __future__ import annotations

import pytest

from model.contract import Recommendation
from model.ranking_metrics import RankingSums
from stream.messages.recommendation import RecommendationMessage
from stream.trainer.budget import TrainBudget
from stream.trainer.pending_updates import merge_user_updates
from stream.trainer.publishing import to_messages
from stream.trainer.recent_quality import RecentQuality
from tests.unit.test_trainer_batching import update


def sums(hits: int, misses: int) -> RankingSums:
    out = RankingSums()
    for _ in range(hits):
        out.add(0)
    for _ in range(misses):
        out.add(None)
    return out


def test_recent_quality_forgets_old_steps() -> None:
    quality = RecentQuality(window_events=10)
    quality.add(sums(10, 0))  # a perfect start ...
    assert quality.means()["hr@10"] == 1.0
    quality.add(sums(0, 10))  # ... then a collapse fills the window by itself
    assert quality.count == 10
    assert quality.means()["hr@10"] == 0.0
    quality.add(sums(0, 0))  # an empty step changes nothing
    assert quality.count == 10


def test_recent_quality_keeps_whole_steps_until_newer_ones_cover_the_window() -> None:
    quality = RecentQuality(window_events=10)
    quality.add(sums(4, 0))
    quality.add(sums(0, 4))
    quality.add(sums(4, 0))
    assert quality.count == 12  # dropping the first step would leave 8 < 10
    assert quality.means()["hr@10"] == pytest.approx(8 / 12)


def test_budget_is_unbounded_without_a_budget_or_a_measurement() -> None:
    assert TrainBudget(None).limit() is None
    budget = TrainBudget(0.25)
    assert budget.limit() is None
    budget.observe(0.1, 10)
    assert budget.limit() == 25  # 10 ms per sequence, no spread yet: 250 ms / 10 ms


def test_budget_separates_fixed_cost_from_cost_per_sequence() -> None:
    budget = TrainBudget(0.25)
    for n in (10, 50, 100, 200, 20, 150):
        budget.observe(0.05 + 0.001 * n, n)  # 50 ms fixed + 1 ms per sequence
    fixed, per = budget.cost_model() or (0, 0)
    assert fixed == pytest.approx(0.05) and per == pytest.approx(0.001)
    assert budget.limit() == 200


def test_budget_never_stops_learning_altogether() -> None:
    budget = TrainBudget(0.01, floor=8)
    budget.observe(5.0, 10)  # far over budget
    assert budget.limit() == 8


def test_messages_name_the_newest_event_and_skip_empty_lists() -> None:
    batch = [
        merge_user_updates([update("u1", ["a", "b"], 1, [10.0, 20.0])]),
        merge_user_updates([update("u2", ["c"], 1, [30.0])]),
    ]
    recs = [Recommendation("u1", ["i1", "i2"], [0.5, 0.25]), Recommendation("u2", [], [])]
    messages = to_messages(recs, batch, version=7, now=21.5)
    assert messages == [RecommendationMessage("u1", ["i1", "i2"], [0.5, 0.25], 7, 20.0, "b", 21.5)]
    assert RecommendationMessage.from_json(messages[0].to_json()) == messages[0]
