"""The trainer's step loop: pending updates -> one learner step in its own thread ->
recommendations out -> updates acknowledged. No Kafka here (the Faust app wires it).

The learner lives in one long-lived worker thread that owns the model; the event
loop only batches, publishes and acknowledges. While a step runs, new micro-batches
wait in :class:`PendingUpdates` and the next step takes all of them (newest window
per user, at most ``max_batch_size`` users): a burst makes steps larger, not queues
longer. When that much is waiting the agent stops reading, which shows as consumer
lag. An update is acknowledged only after its step has learned it and its
recommendation has been handed to the producer (at least once).

Learning has its own cadence (``trainer.train_every_ms``): a step in between only
ranks and publishes, and holds its updates, unacknowledged, for the next training
step, which learns them together with its own. A training call has a fixed cost
(the optimiser, Python, many small kernels) that five steps a second paid five
times; freshness does not wait for learning.

In a trainer group (several ranks, one model: :class:`GroupMember`) every step is a
group step on the group's clock (``distributed.step_every_ms``): it learns, with or
without data, and ends with a round in which the ranks decide together on checkpoints
and rollbacks (``group_round``). A failed collective stops the worker: the launcher
restarts the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from model.contract import Learner, Recommendation, StepReport, UserSequence
from model.replica_group import ReplicaGroupError
from stream.messages.recommendation import RecommendationMessage
from stream.messages.sequence_decoder import UpdateReason, UpdateRejection
from stream.messages.sequence_update import SequenceUpdate
from stream.settings import TrainerSettings
from stream.trainer.budget import TrainBudget
from stream.trainer.catch_up import CatchUpQueue, merge_by_user
from stream.trainer.group_member import GroupMember
from stream.trainer.lifecycle import ModelLifecycle
from stream.trainer.loop_lifecycle import LoopLifecycle
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.outcome import StepOutcome
from stream.trainer.pending_updates import MergedUpdate, PendingUpdates
from stream.trainer.publishing import to_messages
from stream.trainer.recent_quality import RecentQuality
from stream.trainer.solo_replica import SoloReplica
from stream.trainer.thread_priority import lower_thread_priority

log = logging.getLogger(__name__)

Publish = Callable[[list[RecommendationMessage]], Coroutine[Any, Any, None]]
Acknowledge = Callable[[list[Any]], None]
Position = Callable[[Any], tuple[int, int] | None]  # a tag -> (partition, offset)
# Dead-letters refused updates, each given as (its tag, its bytes), with the reason.
Reject = Callable[[list[tuple[Any, bytes | None]], UpdateRejection], Coroutine[Any, Any, None]]

# A learner that fails on this many updates in a row, each alone, is broken, not fed
# poison: the worker stops (and is restarted) rather than dead-letter the whole stream.
MAX_REJECTED_IN_A_ROW = 50


async def _no_dead_letters(
    _refused: list[tuple[Any, bytes | None]], rejection: UpdateRejection
) -> None:
    log.error("no dead-letter topic wired; update dropped: %s", rejection.detail)


class TrainerLoop(LoopLifecycle):
    def __init__(
        self,
        *,
        learner: Learner,
        settings: TrainerSettings,
        metrics: TrainerMetrics,
        publish: Publish,
        acknowledge: Acknowledge,
        clock: Callable[[], float] = time.time,
        lifecycle: ModelLifecycle | None = None,
        position: Position = lambda _tag: None,
        reject: Reject = _no_dead_letters,
        published_version: int = -1,
        member: GroupMember | None = None,
        solo: SoloReplica | None = None,
    ) -> None:
        """``published_version``: the highest model version any earlier process published;
        every version this loop publishes is above it (consumers keep the highest).
        ``member``: this process's place in a trainer group (None: it trains alone);
        ``solo``: the group metrics of a trainer that trains alone."""
        self.member = member
        self.solo = solo
        self.learner = learner
        self.settings = settings
        self.metrics = metrics
        self.publish = publish
        self.acknowledge = acknowledge
        self.clock = clock
        self.lifecycle = lifecycle
        self.position = position
        self.reject = reject
        self.published_version = published_version
        self._continue_above(published_version)
        self._rejected_in_a_row = 0
        self.pending = PendingUpdates()
        self.catch_up = CatchUpQueue(settings.catch_up_max_events)
        self.quality = RecentQuality(settings.quality_window_events)
        self.budget = TrainBudget(
            settings.train_budget_ms / 1000 if settings.train_budget_ms is not None else None
        )
        # One thread, for the life of the process: it owns the model (and its CUDA
        # context), so no lock is needed around the weights.
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="recstream-learner",
            initializer=lower_thread_priority, initargs=(settings.learner_nice,),
        )  # fmt: skip
        self._held: list[MergedUpdate] = []  # ranked, to learn at the next training step
        self._last_trained = time.monotonic()
        self._work = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    # -- the agent's side ------------------------------------------------------

    def add(self, updates: Iterable[tuple[SequenceUpdate, Any]]) -> None:
        """Queue decoded updates (each with the tag to acknowledge once learned)."""
        updates = list(updates)
        if self.lifecycle is not None:
            for _update, tag in updates:
                where = self.position(tag)
                if where is not None:
                    self.lifecycle.tracker.read(*where)
        self.pending.add(updates)
        self.metrics.pending_updates.set(self.pending.count)
        if self.pending.count:
            self._work.set()
        if self.pending.users >= self.settings.max_batch_size:
            self._room.clear()

    async def wait_for_room(self) -> None:
        """Return once fewer than a full step of users is waiting (backpressure)."""
        await self._room.wait()

    # -- the step loop -----------------------------------------------------------

    async def run(self) -> None:
        """Take whatever is waiting, learn it, publish, acknowledge; forever."""
        while True:
            await self._wait_for_work()
            await self.step_once()

    async def _wait_for_work(self) -> None:
        """Until an update waits, or held or queued sequences are due to be learned (in
        a group: until the group's next step)."""
        if self.member is not None:
            every = self.member.settings.step_every_ms / 1000
            delay = self.member.last_step_started + every - time.monotonic()
            if delay > 0 and not self.member.busy:  # every rank got the same answer
                await asyncio.sleep(delay)
            self.member.last_step_started = time.monotonic()
            return
        if self.pending.count:
            return
        if not self._held and not len(self.catch_up):
            await self._work.wait()
            return
        delay = self._training_due_in()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), delay)

    def _held_users(self) -> int:
        return len({merged.newest.user_id for merged in self._held})

    def _training_due_in(self) -> float:
        """Seconds until the next step may learn (0: this one)."""
        every = self.settings.train_every_ms / 1000
        if every <= 0 or len(self.catch_up) or self.member is not None:
            # Over budget (sequences queued): every step learns all the budget allows, as
            # without a cadence; catching up only when steps are idle would fall behind.
            return 0.0
        limit = self.budget.limit()
        if limit is not None and self._held_users() >= limit:
            return 0.0  # a full training step is waiting
        return max(0.0, self._last_trained + every - time.monotonic())

    async def step_once(self) -> StepOutcome | None:
        """One step over what is waiting (or, when no update waits, over over-budget
        sequences of earlier steps). A step that fails is retried on halves of its batch
        until the updates it fails on alone are found and dead-lettered."""
        batch = self.pending.take(self.settings.max_batch_size)
        if self.pending.users < self.settings.max_batch_size:
            self._room.set()
        self.metrics.pending_updates.set(self.pending.count)
        try:
            if batch or self.member is not None:  # a group steps with or without data
                return await self._step(batch)
            if (self._held or len(self.catch_up)) and self._training_due_in() <= 0:
                return await self._step([])
            return None
        finally:
            if self.pending.count:
                self._work.set()
            else:
                self._work.clear()
            self.metrics.catch_up_queue.set(len(self.catch_up))
            self.metrics.held_sequences.set(self._held_users())

    async def _step(self, batch: list[MergedUpdate]) -> StepOutcome | None:
        """One step: it learns when training is due (its own and the held updates, or
        queued ones when it has none), else it only ranks and holds ``batch``."""
        published: set[str] = set()  # users already sent a recommendation in this step
        learns = self._training_due_in() <= 0
        released: list[MergedUpdate] = []
        if learns:
            released, self._held = self._held, []
        try:
            return await self._attempt(
                batch, self.budget.limit(), published,
                through_queue=True, learns=learns, released=released,
            )  # fmt: skip
        except ReplicaGroupError:
            raise  # a peer is gone: no retry can meet the others' collectives
        except Exception as exc:  # noqa: BLE001 - whatever the learner raised, isolate it
            suspects = released + batch  # a held update may be what the step fails on
            log.error("step of %d users failed (%r); isolating the updates it fails on",
                      len(suspects), exc)  # fmt: skip
            outcomes = await self._isolate(suspects, published, exc)
            return outcomes[-1] if outcomes else None

    async def _isolate(
        self, batch: list[MergedUpdate], published: set[str], exc: BaseException
    ) -> list[StepOutcome]:
        if len(batch) == 1:
            await self._reject(batch[0], exc)
            return []
        outcomes: list[StepOutcome] = []
        middle = len(batch) // 2
        for half in (batch[:middle], batch[middle:]):
            try:
                outcomes.append(await self._attempt(half, None, published))
            except ReplicaGroupError:
                raise
            except Exception as half_exc:  # noqa: BLE001 - see step_once
                outcomes.extend(await self._isolate(half, published, half_exc))
        return outcomes

    async def _reject(self, merged: MergedUpdate, exc: BaseException) -> None:
        self._rejected_in_a_row += 1
        if self._rejected_in_a_row > MAX_REJECTED_IN_A_ROW:
            raise RuntimeError(
                f"the learner failed on {self._rejected_in_a_row} updates in a row, each "
                "alone: it is broken, not fed bad data"
            ) from exc
        rejection = UpdateRejection(UpdateReason.STEP_FAILED, f"{type(exc).__name__}: {exc}"[:500])
        log.error("dead-lettering %d update(s) of user %r: the step fails on them alone (%s)",
                  len(merged.updates), merged.newest.user_id, rejection.detail)  # fmt: skip
        await self.reject([(tag, update.to_json())
                           for update, tag in zip(merged.updates, merged.tags, strict=True)],
                          rejection)  # fmt: skip
        self.acknowledge(list(merged.tags))
        self._mark_learned(list(merged.tags))

    async def _attempt(
        self, batch: list[MergedUpdate], limit: int | None, published: set[str],
        through_queue: bool = False, learns: bool = True,
        released: list[MergedUpdate] | None = None,
    ) -> StepOutcome:  # fmt: skip
        """One learner call on ``batch``: rank, publish, learn, acknowledge, record. With
        ``through_queue`` the catch-up queue chooses what is learned (``trainer.catch_up``):
        the ``released`` held sequences and the batch's own within the limit, or, with none,
        queued ones. Without it the learner learns the whole batch (a retried part of a
        failed step). Unless it ``learns``, it only ranks and holds the batch."""
        loop = asyncio.get_running_loop()
        sequences = [m.sequence for m in batch]
        released = released or []
        choice = None
        train: list[UserSequence] | None = None  # None: the whole batch
        if not learns:
            train = []
        elif through_queue:
            learnable = merge_by_user([m.sequence for m in released] + sequences)
            queue = self.catch_up
            choice = queue.choose(learnable, limit) if learnable else queue.take(limit)
            train = choice.train
            self._last_trained = time.monotonic()
        started = time.perf_counter()
        sent: list[tuple[Future[None], list[RecommendationMessage], float]] = []

        def on_recommendations(recommendations: list[Recommendation], version: int) -> None:
            # Runs in the learner thread between the ranking pass and the optimiser
            # step: publishing overlaps training. A retried part of a failed step does
            # not publish twice for a user (versions only go up per user).
            now = self.clock()
            fresh = [r for r in recommendations if r.user_id not in published]
            messages = to_messages(fresh, batch, version, now)
            published.update(message.user_id for message in messages)
            sent.append((asyncio.run_coroutine_threadsafe(self.publish(messages), loop),
                         messages, now))  # fmt: skip

        try:
            report = await loop.run_in_executor(
                self.executor, self._learn, sequences, on_recommendations, limit, train
            )
        except BaseException:
            if choice is not None and choice.taken:
                # The isolation that follows learns this step's own sequences; the queued
                # ones it took wait again (their merge into fresh windows is not undone).
                self.metrics.dropped_sequences.inc(
                    self.catch_up.give_back(choice.train[-choice.taken :])
                )
            raise
        finally:
            # Whatever was handed to the producer is out, even if the step then failed.
            for future, messages, _now in sent:
                await asyncio.wrap_future(future)
                self._published(messages)
        self._rejected_in_a_row = 0
        if not learns:
            # Same weights, a new number: consumers keep the highest version per user, so
            # every step's recommendations must carry a higher one than the last step's.
            self.learner.version += 1
            report.model_version = self.learner.version
        outcome = StepOutcome(report, batch, choice, wall_s=time.perf_counter() - started,
                              learned=learns)  # fmt: skip
        for _future, messages, published_ts in sent:
            outcome.messages.extend(messages)
            outcome.published_ts = published_ts
        tags = [tag for merged in [*released, *batch] for tag in merged.tags]
        if learns:
            self.acknowledge(tags)
            learned = len(choice.train) if choice is not None else len(batch)
            self.budget.observe(
                report.train_s, learned - report.untrained_sequences + report.replayed_sequences
            )
        else:
            self._held.extend(batch)  # acknowledged once a training step has learned them
        if report.skipped:
            log.warning("step skipped by a guard: %s", report.skip_reason)
        self.quality.add(report.overall)
        self.metrics.record_step(outcome, limit, self.quality, self.clock())
        if self.lifecycle is not None:
            if learns:
                self._mark_learned(tags)
            if self.member is None:  # a group's round did this in the learner thread
                await self._lifecycle(report)
        return outcome

    def _published(self, messages: list[RecommendationMessage]) -> None:
        if messages:
            self.published_version = max(self.published_version,
                                         max(m.model_version for m in messages))  # fmt: skip

    def _learn(self, sequences: Any, sink: Any, limit: int | None, train: Any) -> StepReport:
        started = time.thread_time()  # this (learner) thread's CPU: wall time counts waits
        report: StepReport | None = None
        peers_gone = False
        try:
            report = self.learner.learn(sequences, self.settings.top_k, sink, limit, train)
            return report
        except ReplicaGroupError:
            peers_gone = True  # another collective would only wait out its timeout again
            raise
        finally:
            self.metrics.learner_cpu.inc(time.thread_time() - started)
            if self.member is not None and not peers_gone:  # the others wait for it
                self._group_round(self.member, report)
            elif self.solo is not None and report is not None:
                self.solo.stepped(self.learner)

    def forget_partitions(self, partitions: set[int]) -> None:
        """This rank no longer reads ``partitions`` (a rebalance): their waiting updates
        are dropped, unacknowledged (the new owner reads them again from the committed
        offset, so one rank publishes for a user at a time), and another rank's reports
        say where they are safe to resume from now."""
        if not partitions:
            return

        def moved(tag: Any) -> bool:
            where = self.position(tag)
            return where is not None and where[0] in partitions

        dropped = self.pending.drop(moved)
        if self.pending.users < self.settings.max_batch_size:
            self._room.set()
        if dropped:
            log.info("dropped %d waiting updates of partitions %s: another rank reads them now",
                     dropped, sorted(partitions))  # fmt: skip
        self.metrics.pending_updates.set(self.pending.count)
        if self.lifecycle is not None:
            self.lifecycle.tracker.forget(partitions)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
