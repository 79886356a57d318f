"""The training cadence (trainer.train_every_ms): steps between training steps rank and
publish, and hold their updates unacknowledged; the next training step learns them
all (one window per user), acknowledges them, and isolates one it fails on."""

from __future__ import annotations

import asyncio
from typing import Any

from stream.messages.recommendation import RecommendationMessage
from stream.trainer.loop import TrainerLoop
from tests.unit.test_trainer_batching import update
from tests.unit.test_trainer_loop import (
    FixedBudget,
    PoisonedLearner,
    RecordingLearner,
    learned_events,
    make_loop,
)

MINUTE_MS = 60_000


def make_due(loop: TrainerLoop) -> None:
    loop._last_trained -= MINUTE_MS / 1000  # as if the interval had passed


def test_steps_between_training_steps_publish_and_hold_then_one_step_learns_all() -> None:
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]

    async def scenario() -> TrainerLoop:
        loop = make_loop(learner, published, acked, train_every_ms=MINUTE_MS)
        loop.add([(update("u1", ["a"], 1), "m1")])
        await loop.step_once()
        loop.add([(update("u1", ["a", "b"], 1), "m2"), (update("u2", ["c"], 1), "m3")])
        await loop.step_once()
        # Recommended at once, neither learned nor acknowledged yet.
        assert [m.event_id for m in published] == ["a", "b", "c"]
        assert learner.trained == [[], []] and acked == []
        assert loop.metrics.held_sequences._value.get() == 2
        make_due(loop)
        loop.add([(update("u3", ["d"], 1), "m4")])
        outcome = await loop.step_once()
        assert outcome is not None and outcome.choice is not None
        assert loop.metrics.held_sequences._value.get() == 0
        loop.close()
        return loop

    loop = asyncio.run(scenario())
    assert [[s.user_id for s in b] for b in learner.batches] == [["u1"], ["u1", "u2"], ["u3"]]
    # One window per user: u1's newest, covering both of its new events.
    trained = {s.user_id: (list(s.items), s.new_count) for s in learner.trained[-1]}
    assert trained == {"u1": (["item-a", "item-b"], 2), "u2": (["item-c"], 1),
                       "u3": (["item-d"], 1)}  # fmt: skip
    assert sorted(acked) == ["m1", "m2", "m3", "m4"]
    # Steps that only ranked still publish higher versions each time (u1 twice).
    assert [m.model_version for m in published] == [0, 1, 1, 2]
    # Held sequences are neither over budget nor caught up: learned in time.
    assert loop.metrics.untrained_sequences._value.get() == 0


def test_held_updates_are_learned_once_the_stream_pauses() -> None:
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]
    produced = {("u1", "item-a"), ("u2", "item-b")}

    async def scenario() -> None:
        loop = make_loop(learner, published, acked, train_every_ms=100)
        runner = asyncio.create_task(loop.run())
        loop.add([(update("u1", ["a"], 1), "m1")])
        loop.add([(update("u2", ["b"], 1), "m2")])
        for _ in range(500):  # nothing more arrives: the loop's timer learns them
            if len(acked) == 2:
                break
            await asyncio.sleep(0.01)
        runner.cancel()
        loop.close()

    asyncio.run(scenario())
    assert sorted(acked) == ["m1", "m2"]
    assert learned_events(learner) == produced


def test_a_held_update_the_training_step_fails_on_is_isolated_and_dead_lettered() -> None:
    learner = PoisonedLearner({"u2"}, when_learning=True)
    published: list[RecommendationMessage] = []
    acked: list[Any] = []
    refused: list[Any] = []

    async def reject(updates: list[tuple[Any, bytes | None]], _rejection: Any) -> None:
        refused.extend(tag for tag, _raw in updates)

    async def scenario() -> None:
        loop = make_loop(learner, published, acked, train_every_ms=MINUTE_MS)
        loop.reject = reject
        loop.add([(update("u1", ["a"], 1), "m1"), (update("u2", ["b"], 1), "m2")])
        await loop.step_once()  # held: the poison is not learned yet
        make_due(loop)
        loop.add([(update("u3", ["c"], 1), "m3")])
        await loop.step_once()
        loop.close()

    asyncio.run(scenario())
    assert refused == ["m2"]
    assert sorted(acked) == ["m1", "m2", "m3"]
    assert learned_events(learner) == {("u1", "item-a"), ("u3", "item-c")}


def test_over_budget_every_step_learns_and_the_queue_catches_up_at_once() -> None:
    """The cadence saves a fixed cost per training call; once sequences queue over the
    budget that cost is paid anyway, and waiting would only fall further behind."""
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]
    produced: set[tuple[str, str]] = set()

    async def scenario() -> None:
        loop = make_loop(learner, published, acked, train_every_ms=MINUTE_MS)
        loop.budget = FixedBudget(10)  # type: ignore[assignment]
        for step in range(4):
            batch = [(update(f"u{step}-{n}", [f"e{step}-{n}"], 1), f"m{step}-{n}")
                     for n in range(20)]  # fmt: skip
            produced.update((f"u{step}-{n}", f"item-e{step}-{n}") for n in range(20))
            loop.add(batch)
            await loop.step_once()
        # Step 1 held its 20 users (fewer than 10 held before it); step 2 found a full
        # training step held and learned; from then on every step learned.
        assert [len(t) for t in learner.trained] == [0, 10, 10, 10]
        while len(loop.catch_up):  # no timer to wait for: catch-up steps run at once
            assert await loop.step_once() is not None
        loop.close()

    asyncio.run(scenario())
    assert learned_events(learner) == produced
    assert len(acked) == 80
