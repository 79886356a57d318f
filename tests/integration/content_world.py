"""A small shop for cold-start tests: a few categories of items titled from their
category's words (stream/data/synthetic_catalog.py), users who each stay in one
category, and per category one new item that is in the catalogue but never in an event."""

from __future__ import annotations

import random
from typing import Any

from stream.data.synthetic_catalog import ADJECTIVES, THEMES

CATEGORIES, ITEMS_PER_CATEGORY, USERS_PER_CATEGORY = 6, 8, 10


def category_of(user_or_item: str) -> int:
    return int(user_or_item.split("-")[1])


def catalogue() -> list[dict[str, Any]]:
    rng = random.Random(3)
    records = []
    for c in range(CATEGORIES):
        for i in range(ITEMS_PER_CATEGORY + 1):  # the last one: new, never in an event
            words = rng.sample(THEMES[c], 3)
            item = f"new-{c}" if i == ITEMS_PER_CATEGORY else f"item-{c}-{i}"
            records.append({"item_id": item, "title": f"{rng.choice(ADJECTIVES)} {' '.join(words)}",
                            "category": " ".join(THEMES[c][:2])})  # fmt: skip
    return records


def events(rounds: int, start_ts: float, seed: int = 5) -> list[dict[str, Any]]:
    """``rounds`` events per user, each on an item of the user's own category, in time order."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for c in range(CATEGORIES):
        for u in range(USERS_PER_CATEGORY):
            for _ in range(rounds):
                rows.append({"user_id": f"user-{c}-{u}",
                             "item_id": f"item-{c}-{rng.randrange(ITEMS_PER_CATEGORY)}",
                             "action": "view", "ts": start_ts + rng.uniform(0, 60)})  # fmt: skip
    rows.sort(key=lambda row: row["ts"])
    return rows
