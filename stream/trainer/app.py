"""The trainer Faust app: ``recstream.sequences`` -> learner steps -> ``recstream.recommendations``.

The agent only reads micro-batches (``take_events``: at most ``batch_size`` messages,
each a batch of updates, or ``batch_timeout_ms``), decodes them and queues the updates
on the :class:`TrainerLoop`; the loop's task runs the steps. Each message is
acknowledged only once all its updates are learned: the agent takes one extra
reference per update (``Message.incref``) so Faust's own ack at the end of the take
does not mark it done, and the loop releases one per learned update (``Event.ack``).
Faust commits an offset only when every message up to it is acked and flushes the
producer before committing, so a crash re-reads (never skips) what was not yet
learned and published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry

from model.contract import Learner
from stream.kafka.faust_options import faust_app_options
from stream.kafka.lag_and_stuck_watch import watch_lag_and_stuck_partitions
from stream.kafka.lossless_consumer import lossless_app
from stream.messages.dead_letter import dead_letter_record
from stream.messages.events import MessageOrigin
from stream.messages.recommendation import RecommendationMessage
from stream.messages.sequence_decoder import UpdateLimits, UpdateRejection, decode_message
from stream.messages.sequence_update import SequenceUpdate
from stream.settings import Settings
from stream.trainer.group_member import GroupMember
from stream.trainer.lifecycle import ModelLifecycle
from stream.trainer.loop import TrainerLoop
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.solo_replica import SoloReplica

log = logging.getLogger(__name__)

_RAW: faust.Schema[bytes, bytes] = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


def _position(event: Any) -> tuple[int, int]:
    return event.message.partition, event.message.offset


def build_trainer_app(
    settings: Settings,
    registry: CollectorRegistry,
    learner: Learner,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    metrics: TrainerMetrics | None = None,
    lifecycle: ModelLifecycle | None = None,
    published_version: int = -1,
    member: GroupMember | None = None,
    solo: SoloReplica | None = None,
) -> tuple[faust.App, TrainerLoop]:
    """A Faust app for the trainer and the loop that owns the learner; it publishes
    model versions above ``published_version`` (see :func:`highest_published_version`);
    ``member``: its place in a trainer group; ``solo``: the group metrics of a trainer
    that trains alone."""
    cfg = settings.trainer
    options = faust_app_options(settings, data_dir or cfg.data_dir)
    if member is not None:
        # A rank's acknowledgements wait for group steps, which need every rank, and a
        # joining rank's step loop starts only after its first assignment (Faust starts
        # app tasks once recovery is done): a rebalance that waits for the old owner's
        # acks (stream_wait_empty, the default) deadlocked until the collective timeout.
        # Not waiting is at least once still: what is not acked is read again.
        options["stream_wait_empty"] = False
    app = lossless_app(
        cfg.app_id, settings.kafka.fill_offset_gaps, store="memory://",
        fetch_wait_ms=cfg.fetch_wait_ms, **options,
    )  # fmt: skip
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, "faust_trainer"))
    metrics = metrics or TrainerMetrics.create(registry)
    source = app.topic(settings.topics.sequences, schema=_RAW)
    recommendations_topic = settings.topics.recommendations
    deadletter_topic = settings.topics.deadletter

    async def publish(messages: list[RecommendationMessage]) -> None:
        producer = app.producer
        for message in messages:
            await producer.send(
                recommendations_topic, message.user_id.encode(), message.to_json(),
                None, None, None,
            )  # fmt: skip

    def acknowledge(events: list[Any]) -> None:
        for event in events:
            event.ack()  # drops the reference the agent took: now safe to commit

    async def reject(refused: list[tuple[Any, bytes | None]], rejection: UpdateRejection) -> None:
        """Dead-letter refused updates (each: the event of its message, and its own bytes)
        with the reason and count them: the one path of every refused update,
        undecodable or failing a step."""
        metrics.invalid_updates.labels(reason=str(rejection.reason)).inc(len(refused))
        for event, raw in refused:
            message = event.message
            origin = MessageOrigin(message.topic, message.partition, message.offset,
                                   message.timestamp)  # fmt: skip
            record = dead_letter_record(rejection, raw, origin,
                                        settings.events.deadletter_raw_max_bytes)  # fmt: skip
            await app.producer.send(deadletter_topic, message.key, record, None, None, None)

    loop = TrainerLoop(
        learner=learner, settings=cfg, metrics=metrics, publish=publish, acknowledge=acknowledge,
        clock=clock, lifecycle=lifecycle, position=_position, reject=reject,
        published_version=published_version, member=member, solo=solo,
    )  # fmt: skip
    if member is not None:
        _track_assignment(app, loop, member, settings.topics.sequences)
    limits = UpdateLimits(settings.window.max_events, settings.events.max_id_length,
                          tuple(settings.topics.events))  # fmt: skip

    watch_lag_and_stuck_partitions(
        app, settings, cfg.app_id, [settings.topics.sequences],
        lambda _topic, partition, behind: metrics.consumer_lag.labels(
            partition=str(partition)).set(behind),
    )  # fmt: skip

    @app.agent(source, name="learn")
    async def learn(stream: faust.StreamT[Any]) -> None:
        assert isinstance(stream, faust.Stream)
        within = cfg.batch_timeout_ms / 1000
        async for events in stream.take_events(cfg.batch_size, within=within):
            queued: list[tuple[SequenceUpdate, Any]] = []
            for event in events:
                message = event.message
                decoded = decode_message(message.value, limits)
                for raw, rejection in decoded.rejected:
                    # Only the sequencer should write this topic: a bad update is a bug
                    # or a foreign producer. Dead-letter it loudly; learning goes on.
                    log.error("refused sequence update at %s[%d]@%d: %s (%s)", message.topic,
                              message.partition, message.offset, rejection.reason,
                              rejection.detail)  # fmt: skip
                    await reject([(event, raw)], rejection)
                if decoded.updates:
                    # One reference per update, each released by the step that learns it:
                    # the message is done (and its offset committable) with its last update.
                    # A message with none left is acked by take_events like any other.
                    message.incref(len(decoded.updates))
                    queued.extend((update, event) for update in decoded.updates)
            metrics.updates.inc(len(queued))
            if member is not None:
                for event in events:
                    member.metrics.read_updates.labels(
                        rank=member.metrics.rank, partition=str(event.message.partition)
                    ).inc()
            loop.add(queued)
            await loop.wait_for_room()

    async def steps() -> None:
        try:
            await loop.run()
        except Exception as exc:
            log.exception("the learner failed; stopping the trainer")
            await app.crash(exc)
            raise

    # A running step finishes in its thread at shutdown (the executor's threads are
    # joined at exit); its updates stay unacknowledged and are read again next time.
    app.task(steps)
    return app, loop


def _track_assignment(app: faust.App, loop: TrainerLoop, member: GroupMember, topic: str) -> None:
    """Show which partitions this rank reads, and stop reporting resume offsets for the
    ones a rebalance gave to another rank (Faust's partition signals; a handler receives
    the sender, then the partitions). Forgotten on the new assignment, not on revocation:
    an eager rebalance revokes every partition, and what stays must keep its offsets."""
    owned: set[int] = set()

    def of_topic(partitions: Any) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == topic}

    @app.on_partitions_revoked.connect
    async def revoked(_sender: Any, /, *args: Any, signal: Any, **_kwargs: Any) -> None:
        member.metrics.owns(of_topic(args[0]), False)

    @app.on_partitions_assigned.connect
    async def assigned(_sender: Any, /, *args: Any, signal: Any, **_kwargs: Any) -> None:
        nonlocal owned
        now = of_topic(args[0])
        loop.forget_partitions(owned - now)
        member.metrics.owns(owned - now, False)
        member.metrics.owns(now, True)
        owned = now
