"""A reservoir of older sequences, replayed next to new data so the model does not forget."""

from __future__ import annotations

import random
from typing import Any

from model.contract import UserSequence


class ReservoirBuffer:
    """Uniform sample of every sequence offered so far (Vitter's algorithm R)."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        self.capacity = capacity
        self.items: list[UserSequence] = []
        self.offered = 0
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.items)

    def offer(self, sequence: UserSequence) -> None:
        if self.capacity <= 0:
            return
        self.offered += 1
        if len(self.items) < self.capacity:
            self.items.append(sequence)
            return
        slot = self.rng.randrange(self.offered)
        if slot < self.capacity:
            self.items[slot] = sequence

    def sample(self, count: int) -> list[UserSequence]:
        if not self.items or count <= 0:
            return []
        return self.rng.sample(self.items, min(count, len(self.items)))

    def to_state(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "offered": self.offered,
            "rng": list(self.rng.getstate()[1]),
            "rng_version": self.rng.getstate()[0],
            "rng_gauss": self.rng.getstate()[2],
            "items": [
                {
                    "user_id": s.user_id,
                    "items": list(s.items),
                    "actions": list(s.actions),
                    "ts": list(s.ts),
                }
                for s in self.items
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ReservoirBuffer:
        buffer = cls(int(state["capacity"]))
        buffer.offered = int(state["offered"])
        buffer.rng.setstate((state["rng_version"], tuple(state["rng"]), state["rng_gauss"]))
        buffer.items = [
            UserSequence(s["user_id"], s["items"], s["actions"], s["ts"]) for s in state["items"]
        ]
        return buffer
