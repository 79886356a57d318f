"""The trending baseline: popularity whose half-life counts events, not seconds."""

from __future__ import annotations

from pathlib import Path

from model.baselines.popularity import PopularityBaseline, TrendingBaseline
from model.contract import UserSequence
from model.registry import load_learner


def _views(user: str, items: list[str]) -> UserSequence:
    """Events without a clock of their own: every timestamp is 0, as in a file of pairs."""
    return UserSequence(user, items, ["view"] * len(items), [0.0] * len(items), len(items))


def test_newer_events_outweigh_older_ones_when_timestamps_say_nothing() -> None:
    popularity, trending = PopularityBaseline(), TrendingBaseline(half_life_events=2.0)
    for model in (popularity, trending):
        model.update(_views("u1", ["old", "old", "old"]))
        model.update(_views("u2", ["new", "new"]))
    assert [item for item, _ in popularity.top(2)] == ["old", "new"]  # 3 sightings beat 2
    # 2^0.5 + 2^1 + 2^1.5 for the three older events, 2^2 + 2^2.5 for the two newer.
    assert [item for item, _ in trending.top(2)] == ["new", "old"]


def test_the_event_clock_survives_a_save_and_load(tmp_path: Path) -> None:
    trending = TrendingBaseline(half_life_events=2.0)
    trending.update(_views("u1", ["a", "a", "a"]))
    trending.save(tmp_path)
    restored = load_learner(tmp_path)
    assert isinstance(restored, TrendingBaseline) and restored.events == 3
    for model in (trending, restored):
        model.update(_views("u2", ["b", "b"]))
    assert restored.top(2) == trending.top(2) and trending.top(1)[0][0] == "b"
