"""A synthetic behaviour stream with structure a sequential model can learn and
popularity cannot.

- **Catalogue that moves.** Items belong to categories; each item launches at some
  point of the stream, peaks and fades, so the popular set keeps changing.
- **Sequential structure.** Within a category items form a chain (a series, an
  accessory after its product): after viewing item j a user often views j's successor.
- **Personal, drifting interests.** Each user favours a few categories and now and
  then swaps one of them for another.
- **A funnel.** A view may lead to a click on the same item, a click to a purchase.

Deterministic for a seed; events come sorted by ts, one second apart on average.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from stream.messages.events import RawEvent

START_TS = 1_700_000_000.0


@dataclass(frozen=True)
class SyntheticSpec:
    users: int = 500
    items: int = 2_000
    events: int = 20_000
    seed: int = 0
    items_per_category: int = 40
    favourites: int = 3  # categories a user favours at any time
    follow_chain: float = 0.6  # next view is the chain successor of the last one
    drift: float = 0.01  # chance per session that a favourite category is replaced
    click_rate: float = 0.15
    purchase_rate: float = 0.3  # of clicks
    session_length: float = 6.0  # mean views per visit
    # New arrivals promoted: a just-launched item gets this much extra pick weight,
    # fading over its first tenth of life (0: none, the original stream).
    launch_boost: float = 0.0

    def __post_init__(self) -> None:
        for name in ("users", "items", "events"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.items_per_category < 2:
            raise ValueError("items_per_category must be at least 2")


class _Catalogue:
    """Items by category, each alive over a span of the stream with a rise and a fade."""

    def __init__(self, spec: SyntheticSpec, rng: random.Random) -> None:
        self.categories = max(1, math.ceil(spec.items / spec.items_per_category))
        self.category_items: list[list[int]] = [[] for _ in range(self.categories)]
        for item in range(spec.items):
            self.category_items[item % self.categories].append(item)
        self.launch = [rng.uniform(-0.3, 0.9) for _ in range(spec.items)]  # stream fraction
        self.lifetime = [rng.uniform(0.2, 0.6) for _ in range(spec.items)]
        self.appeal = [rng.paretovariate(1.5) for _ in range(spec.items)]
        self.launch_boost = spec.launch_boost

    def weight(self, item: int, progress: float) -> float:
        age = (progress - self.launch[item]) / self.lifetime[item]
        if age < 0 or age > 1:
            return 0.0
        boost = self.launch_boost * math.exp(-age / 0.1) if self.launch_boost else 0.0
        return self.appeal[item] * math.sin(math.pi * age) + boost + 1e-3  # rise, peak, fade

    def alive(self, item: int, progress: float) -> bool:
        return 0 <= progress - self.launch[item] <= self.lifetime[item]

    def successor(self, item: int) -> int:
        members = self.category_items[item % self.categories]
        return members[(members.index(item) + 1) % len(members)]

    def pick(self, category: int, progress: float, rng: random.Random) -> int:
        members = self.category_items[category]
        weights = [self.weight(item, progress) for item in members]
        if not any(weights):
            return rng.choice(members)
        cumulative = [0.0]
        for w in weights:
            cumulative.append(cumulative[-1] + w)
        return members[bisect.bisect_right(cumulative, rng.random() * cumulative[-1]) - 1]


def item_launches(spec: SyntheticSpec) -> list[float]:
    """When each item of ``synthetic_events(spec)`` launches, as a fraction of the stream
    (negative: before it starts), e.g. to publish its catalogue record then."""
    return _Catalogue(spec, random.Random(spec.seed)).launch  # the stream's first draws


def synthetic_events(spec: SyntheticSpec) -> list[RawEvent]:
    rng = random.Random(spec.seed)
    catalogue = _Catalogue(spec, rng)
    favourites = [
        rng.sample(range(catalogue.categories), min(spec.favourites, catalogue.categories))
        for _ in range(spec.users)
    ]
    activity = [rng.paretovariate(1.2) for _ in range(spec.users)]  # a few heavy users
    last_item: list[int | None] = [None] * spec.users
    events: list[RawEvent] = []
    ts = START_TS
    while len(events) < spec.events:
        user = rng.choices(range(spec.users), weights=activity)[0]
        progress = len(events) / spec.events
        if rng.random() < spec.drift:
            favourites[user][rng.randrange(len(favourites[user]))] = rng.randrange(
                catalogue.categories
            )
        views = max(1, round(rng.expovariate(1 / spec.session_length)))
        for _ in range(views):
            previous = last_item[user]
            follow = catalogue.successor(previous) if previous is not None else None
            if (
                follow is not None
                and catalogue.alive(follow, progress)
                and (rng.random() < spec.follow_chain)
            ):
                item = follow
            else:
                item = catalogue.pick(rng.choice(favourites[user]), progress, rng)
            last_item[user] = item
            for action in _funnel(spec, rng):
                ts += rng.expovariate(1.0)
                events.append(RawEvent(user_id=f"u{user}", item_id=f"i{item}", action=action,
                                       ts=round(ts, 3)))  # fmt: skip
    return events[: spec.events]


def _funnel(spec: SyntheticSpec, rng: random.Random) -> list[str]:
    actions = ["view"]
    if rng.random() < spec.click_rate:
        actions.append("click")
        if rng.random() < spec.purchase_rate:
            actions.append("purchase")
    return actions
