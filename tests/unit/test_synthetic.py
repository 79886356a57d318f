"""The synthetic stream has the structure it promises, and a sequential model finds it."""

from __future__ import annotations

from collections import defaultdict

from model.registry import build_learner
from stream.data.synthetic import SyntheticSpec, synthetic_events
from stream.replay.prequential import replay
from tests.unit.model.helpers import tiny_config

SPEC = SyntheticSpec(users=100, items=400, events=6_000, seed=3)


def test_deterministic_sorted_and_sized() -> None:
    events = synthetic_events(SPEC)
    assert events == synthetic_events(SPEC)
    assert len(events) == SPEC.events
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert synthetic_events(SyntheticSpec(users=100, items=400, events=6_000, seed=4)) != events


def test_funnel_clicks_follow_views_and_purchases_follow_clicks() -> None:
    last: dict[str, tuple[str, str]] = {}
    counts: dict[str, int] = defaultdict(int)
    for event in synthetic_events(SPEC):
        counts[event["action"]] += 1
        if event["action"] == "click":
            assert last[event["user_id"]] == ("view", event["item_id"])
        if event["action"] == "purchase":
            assert last[event["user_id"]] == ("click", event["item_id"])
        last[event["user_id"]] = (event["action"], event["item_id"])
    assert counts["view"] > counts["click"] > counts["purchase"] > 0


def test_items_appear_and_fade_over_the_stream() -> None:
    events = synthetic_events(SPEC)
    first: dict[str, int] = {}
    final: dict[str, int] = {}
    for index, event in enumerate(events):
        first.setdefault(event["item_id"], index)
        final[event["item_id"]] = index
    late_arrivals = sum(index > len(events) // 2 for index in first.values())
    gone_early = sum(index < len(events) // 2 for index in final.values())
    assert late_arrivals > len(first) // 10  # new items keep coming
    assert gone_early > len(first) // 10  # and old ones stop being seen


def test_a_sequential_model_beats_popularity_on_it() -> None:
    events = synthetic_events(SPEC)
    scores = {}
    for name in ("transformer", "popularity"):
        result = replay(build_learner(name, tiny_config()), events, 128, 12, 1e9)
        scores[name] = result.overall.means()["ndcg@10"]
    assert scores["transformer"] > 1.5 * scores["popularity"], scores
