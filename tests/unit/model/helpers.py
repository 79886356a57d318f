"""Tiny configs and synthetic sequences for fast model tests."""

from __future__ import annotations

from model.contract import UserSequence
from model.learner_config import LearnerConfig
from model.sequential_recommender import RecommenderConfig

ACTIONS = ("view", "click", "purchase")


def tiny_config(**changes: object) -> LearnerConfig:
    base = LearnerConfig(
        model=RecommenderConfig(hidden_size=16, num_layers=1, num_heads=2, max_len=12, dropout=0.0),
        learning_rate=5e-3,
        replay_capacity=50,
        snapshot_every=1,
    )
    return LearnerConfig(**{**base.__dict__, **changes})


def cycle_batches(
    users: int = 12, length: int = 9, items: int = 30, rounds: int = 3
) -> list[list[UserSequence]]:
    """Each user walks a cycle of items (item i is followed by item i+1): learnable."""
    batches = []
    for r in range(rounds):
        batch = []
        for u in range(users):
            start = (u * 7 + r) % items
            seq = [f"item-{(start + j) % items}" for j in range(length)]
            acts = [ACTIONS[j % 3] for j in range(length)]
            ts = [1_000.0 * r + 10.0 * j for j in range(length)]
            batch.append(UserSequence(f"user-{u}", seq, acts, ts, new_count=length))
        batches.append(batch)
    return batches
