"""What the trainer learned, read from its metrics: the one place that does the sums.

``read`` counts users in steps that ranked (a user's updates waiting together are one);
``deferred`` of those were left out of their own step by the training budget and
``caught_up`` were learned later (alone, or inside the user's newer window), so
``learned = read - deferred + caught_up``; ``dropped`` were pushed out of a full
catch-up queue and ``queued`` still wait (over budget, or held for the next training
step by ``trainer.train_every_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.metrics.scrape import Samples, metric_sum


@dataclass(frozen=True)
class Learning:
    read: float
    deferred: float
    caught_up: float
    dropped: float
    queued: float

    @classmethod
    def from_samples(cls, trainer: Samples) -> Learning:
        def total(name: str) -> float:
            return metric_sum(trainer, f"recstream_trainer_{name}")

        return cls(
            read=total("batch_users_sum"),
            deferred=total("untrained_sequences_total"),
            caught_up=total("caught_up_sequences_total"),
            dropped=total("dropped_sequences_total"),
            # Waiting to be learned: over budget, or held for the next training step.
            queued=total("catch_up_queue") + total("held_sequences"),
        )

    @property
    def learned(self) -> float:
        return self.read - self.deferred + self.caught_up

    @property
    def learned_share(self) -> float:
        return self.learned / max(self.read, 1.0)

    @property
    def deferred_share(self) -> float:
        return self.deferred / max(self.read, 1.0)
