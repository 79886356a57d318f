"""The step loop with a stand-in learner: thread ownership, publish-before-train,
acknowledge-after-learn, bursts merged into larger steps, backpressure, and
over-budget sequences learned later instead of dropped."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from model.contract import Recommendation, RecommendationSink, StepReport, UserSequence
from stream.messages.recommendation import RecommendationMessage
from stream.messages.sequence_update import SequenceUpdate
from stream.settings import TrainerSettings
from stream.trainer.loop import TrainerLoop
from stream.trainer.metrics import TrainerMetrics
from tests.unit.test_trainer_batching import update


class RecordingLearner:
    """Recommends each user's last item; can hold a step open until released."""

    name = "recording"

    def __init__(self) -> None:
        self.threads: set[str] = set()
        self.batches: list[list[UserSequence]] = []
        self.trained: list[list[UserSequence]] = []  # what each step learned from
        self.release = threading.Event()
        self.release.set()
        self.in_step = threading.Event()
        self.version = 0

    def learn(
        self, batch: Sequence[UserSequence], k: int = 0,
        on_recommendations: RecommendationSink | None = None, train_limit: int | None = None,
        train: Sequence[UserSequence] | None = None,
    ) -> StepReport:  # fmt: skip
        self.threads.add(threading.current_thread().name)
        if batch:
            self.batches.append(list(batch))
        self.trained.append(list(batch if train is None else train))
        recs = [Recommendation(s.user_id, [s.items[-1]], [1.0]) for s in batch]
        if on_recommendations:
            on_recommendations(recs, self.version)
        self.in_step.set()
        assert self.release.wait(10)
        if batch if train is None else train:  # an optimiser step (a real learner's rule)
            self.version += 1
        return StepReport(model_version=self.version, sequences=len(batch), recommendations=recs)

    def recommend(self, histories: Any, k: int, exclude: Any = None) -> list[Recommendation]:
        return []

    def save(self, directory: Any) -> None:
        pass


def make_loop(
    learner: RecordingLearner, published: list[RecommendationMessage], acked: list[Any],
    max_batch_size: int = 100, train_every_ms: int = 0,
) -> TrainerLoop:  # fmt: skip
    async def publish(messages: list[RecommendationMessage]) -> None:
        published.extend(messages)

    settings = TrainerSettings(batch_size=1, max_batch_size=max_batch_size, train_budget_ms=None,
                               train_every_ms=train_every_ms)  # fmt: skip
    metrics = TrainerMetrics.create(CollectorRegistry())
    return TrainerLoop(learner=learner, settings=settings, metrics=metrics, publish=publish,
                       acknowledge=acked.extend, clock=lambda: 100.0)  # fmt: skip


def test_steps_run_in_one_learner_thread_and_publish_before_training_ends() -> None:
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]

    async def scenario() -> None:
        loop = make_loop(learner, published, acked)
        learner.release.clear()
        loop.add([(update("u1", ["a", "b"], 1), "m1")])
        step = asyncio.create_task(loop.step_once())
        while not published:  # the recommendation goes out while the step is still open
            await asyncio.sleep(0.01)
        assert not step.done() and acked == []  # not acknowledged before it is learned
        learner.release.set()
        outcome = await step
        assert outcome is not None and outcome.report.model_version == 1
        assert acked == ["m1"]
        loop.close()

    asyncio.run(scenario())
    assert learner.threads and all(name.startswith("recstream-learner") for name in learner.threads)
    assert [(m.user_id, m.items, m.event_id, m.model_version) for m in published] == [
        ("u1", ["item-b"], "b", 0)
    ]


def test_updates_queued_during_a_step_merge_into_the_next_one() -> None:
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]

    async def scenario() -> None:
        loop = make_loop(learner, published, acked)
        runner = asyncio.create_task(loop.run())
        learner.release.clear()
        loop.add([(update("u1", ["a"], 1), "m1")])
        while not learner.in_step.is_set():
            await asyncio.sleep(0.01)
        # A burst while the first step runs: three micro-batches, u2 twice.
        loop.add([(update("u2", ["b"], 1), "m2")])
        loop.add([(update("u2", ["b", "c"], 1), "m3"), (update("u3", ["d"], 1), "m4")])
        loop.add([(update("u4", ["e"], 1), "m5")])
        learner.release.set()
        while len(acked) < 5:
            await asyncio.sleep(0.01)
        runner.cancel()
        loop.close()

    asyncio.run(scenario())
    assert [[s.user_id for s in b] for b in learner.batches] == [["u1"], ["u2", "u3", "u4"]]
    u2 = learner.batches[1][0]
    assert list(u2.items) == ["item-b", "item-c"] and u2.new_count == 2
    assert sorted(acked) == ["m1", "m2", "m3", "m4", "m5"]
    assert {m.user_id: m.event_id for m in published} == {"u1": "a", "u2": "c", "u3": "d",
                                                           "u4": "e"}  # fmt: skip


def test_agent_waits_for_room_when_a_full_step_is_queued() -> None:
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]

    async def scenario() -> None:
        loop = make_loop(learner, published, acked, max_batch_size=2)
        loop.add([(update("u1", ["a"], 1), 1), (update("u2", ["b"], 1), 2)])
        waiting = asyncio.create_task(loop.wait_for_room())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the agent stops reading: lag, not memory, grows
        await loop.step_once()
        await asyncio.wait_for(waiting, 1)
        loop.close()

    asyncio.run(scenario())
    assert acked == [1, 2]


class PoisonedLearner(RecordingLearner):
    """Publishes, then fails its optimiser step whenever ``poison`` is in the batch (with
    ``when_learning``: whenever a call would learn from it, ranking alone is fine)."""

    def __init__(self, poison: set[str], when_learning: bool = False) -> None:
        super().__init__()
        self.poison = poison
        self.when_learning = when_learning

    def learn(
        self, batch: Sequence[UserSequence], k: int = 0,
        on_recommendations: RecommendationSink | None = None, train_limit: int | None = None,
        train: Sequence[UserSequence] | None = None,
    ) -> StepReport:  # fmt: skip
        if self.when_learning:
            learned = batch if train is None else train
            if self.poison & {s.user_id for s in learned}:
                raise ValueError("non-finite loss")
        elif self.poison & {s.user_id for s in batch}:
            if on_recommendations:
                on_recommendations([Recommendation(s.user_id, ["x"], [1.0]) for s in batch],
                                   self.version)  # fmt: skip
            raise IndexError("index 7 is out of bounds")
        return super().learn(batch, k, on_recommendations, train_limit, train)


def test_a_step_that_fails_is_retried_without_the_updates_it_fails_on() -> None:
    learner = PoisonedLearner({"u3", "u6"})
    published: list[RecommendationMessage] = []
    acked: list[Any] = []
    rejected: list[tuple[list[Any], str]] = []
    dead_lettered_users: list[str] = []

    async def reject(refused: list[tuple[Any, bytes | None]], rejection: Any) -> None:
        rejected.append(([tag for tag, _raw in refused], str(rejection.reason)))
        # The update's own bytes, not its message's: a message carries many users.
        dead_lettered_users.extend(SequenceUpdate.from_json(raw or b"").user_id
                                   for _tag, raw in refused)  # fmt: skip

    async def scenario() -> None:
        loop = make_loop(learner, published, acked)
        loop.reject = reject
        loop.add([(update(f"u{n}", [f"i{n}"], 1), f"m{n}") for n in range(8)])
        await loop.step_once()
        loop.add([(update("u9", ["z"], 1), "m9")])
        assert (await loop.step_once()) is not None  # the loop goes on learning
        loop.close()

    asyncio.run(scenario())
    assert rejected == [(["m3"], "sequence_step_failed"), (["m6"], "sequence_step_failed")]
    assert dead_lettered_users == ["u3", "u6"]
    assert sorted(acked) == sorted(f"m{n}" for n in range(10) if n != 8)
    learned = {s.user_id for batch in learner.batches for s in batch}
    assert learned == {f"u{n}" for n in (0, 1, 2, 4, 5, 7, 9)}
    # One recommendation per user and step, even for users whose first attempt failed.
    per_user = [m.user_id for m in published]
    assert sorted(per_user) == sorted({*per_user}) and {"u3", "u6"} <= set(per_user)


def test_a_learner_that_fails_on_everything_stops_the_worker() -> None:
    learner = PoisonedLearner({f"u{n}" for n in range(200)})
    acked: list[Any] = []

    async def scenario() -> None:
        loop = make_loop(learner, [], acked, max_batch_size=200)
        loop.add([(update(f"u{n}", ["a"], 1), n) for n in range(200)])
        try:
            await loop.step_once()
        finally:
            loop.close()

    try:
        asyncio.run(scenario())
    except RuntimeError as exc:
        assert "it is broken" in str(exc)
    else:
        raise AssertionError("a learner failing on every update must stop the loop")
    assert len(acked) == 50  # the first MAX_REJECTED_IN_A_ROW, dead-lettered, then it stops


def test_versions_continue_above_the_highest_published_by_an_earlier_process() -> None:
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]

    async def scenario() -> None:
        loop = make_loop(learner, published, acked)
        assert loop.learner.version == 0
        loop._continue_above(41)  # what highest_published_version read back at start-up
        loop.add([(update("u1", ["a"], 1), "m1")])
        await loop.step_once()
        loop.add([(update("u1", ["a", "b"], 1), "m2")])
        await loop.step_once()
        assert loop.published_version == 43
        loop.close()

    asyncio.run(scenario())
    assert [m.model_version for m in published] == [42, 43]


class FixedBudget:
    """A training budget of a fixed number of sequences per step."""

    def __init__(self, sequences: int) -> None:
        self.sequences = sequences

    def limit(self) -> int:
        return self.sequences

    def observe(self, train_s: float, sequences: int) -> None:
        pass


def learned_events(learner: RecordingLearner) -> set[tuple[str, str]]:
    """(user, item) of every new event some step learned from."""
    return {
        (s.user_id, item)
        for step in learner.trained
        for s in step
        for item in s.items[len(s.items) - s.new_count :]
    }


def test_a_burst_twice_the_budget_is_learned_later_not_dropped() -> None:
    """Each step may learn 10 sequences; 20 users arrive per step for 6 steps (a 2x
    burst, some users returning). Every new event is learned once the burst is over;
    steps with new updates learn only their own, steps that catch up a quarter as many."""
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]
    produced: set[tuple[str, str]] = set()
    windows: dict[str, list[str]] = {}

    async def scenario() -> None:
        loop = make_loop(learner, published, acked, max_batch_size=20)
        loop.budget = FixedBudget(10)  # type: ignore[assignment]
        for step in range(6):
            batch = []
            for n in range(20):
                user = f"u{(step * 20 + n) % 70}"  # 120 updates over 70 users
                event = f"e{step}-{n}"
                windows.setdefault(user, []).append(event)
                produced.add((user, f"item-{event}"))
                batch.append((update(user, windows[user][-50:], 1), event))
            loop.add(batch)
            outcome = await loop.step_once()
            assert outcome is not None and outcome.choice is not None
            fresh = {s.user_id for s in learner.batches[-1]}
            assert {s.user_id for s in learner.trained[-1]} <= fresh
            assert outcome.choice.deferred == 10
        assert len(loop.catch_up) > 0
        while len(loop.catch_up):  # the stream paused: steps only catch up
            outcome = await loop.step_once()
            assert outcome is not None and len(learner.trained[-1]) <= 2
        assert len(loop.catch_up) == 0
        # Every deferred sequence was learned: alone, or inside the user's newer window.
        metrics = loop.metrics
        assert metrics.untrained_sequences._value.get() == 60
        assert metrics.caught_up_sequences._value.get() == 60
        assert metrics.dropped_sequences._value.get() == 0
        loop.close()

    asyncio.run(scenario())
    assert learned_events(learner) == produced
    assert len(acked) == 120  # every update acknowledged once recommended for
    assert all(len(step) <= 10 for step in learner.trained)


def test_a_full_catch_up_queue_drops_the_oldest_and_counts_them() -> None:
    learner, published, acked = RecordingLearner(), [], []  # type: ignore[var-annotated]

    async def scenario() -> TrainerLoop:
        loop = make_loop(learner, published, acked, max_batch_size=30)
        loop.catch_up.max_events = 5  # one-event windows: five users
        loop.budget = FixedBudget(10)  # type: ignore[assignment]
        loop.add([(update(f"u{n}", ["a"], 1), n) for n in range(30)])
        await loop.step_once()
        loop.close()
        return loop

    loop = asyncio.run(scenario())
    assert len(loop.catch_up) == 5
    assert loop.metrics.dropped_sequences._value.get() == 15
    assert loop.metrics.untrained_sequences._value.get() == 20
