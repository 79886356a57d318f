"""SIGKILL the trainer while events stream in, start it again: it resumes from its newest
checkpoint, re-reads every sequence update after it, and every user still gets a
recommendation reflecting their newest event."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from model.checkpoints.store import CheckpointStore
from stream.data.producer import produce
from stream.kafka.topics import create_topics
from stream.messages.events import RawEvent
from stream.messages.recommendation import RecommendationMessage
from stream.messages.sequence_batch import read_updates
from stream.settings import Settings, load_settings
from tests.integration.processes import (
    WorkerProcess,
    isolated_settings,
    metric_sum,
    read_topic,
    scrape,
    wait_for,
)

pytestmark = pytest.mark.integration

USERS, EVENTS, RATE = 300, 3_000, 200.0


def _events(seed: int) -> list[RawEvent]:
    rng = random.Random(seed)
    return [
        RawEvent(user_id=f"user-{rng.randrange(USERS)}", item_id=f"item-{rng.randrange(400)}",
                 action=rng.choice(["view", "view", "click", "purchase"]), ts=float(i))
        for i in range(EVENTS)
    ]  # fmt: skip


def _updates(settings: Settings, resumed: dict[int, int]) -> tuple[int, int]:
    """Updates now in the sequences topic: all, and those at or after ``resumed``'s
    offsets (a message carries a batch of updates)."""
    everything = after = 0
    for _key, value, partition, offset in read_topic(settings, settings.topics.sequences):
        count = len(read_updates(value))
        everything += count
        after += count if offset >= resumed.get(partition, 0) else 0
    return everything, after


def test_sigkill_mid_stream_resumes_from_the_checkpoint_without_skipping(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    base = kafka_settings.model_copy(update={"checkpoints": kafka_settings.checkpoints.model_copy(
        update={"every_steps": 4, "every_s": 1.0, "full_every": 3})})  # fmt: skip
    config, settings = isolated_settings(base, tmp_path, "trkill")
    create_topics(settings)
    sequencer = WorkerProcess("sequencer", config, tmp_path / "sequencer.log").start()
    first = WorkerProcess("trainer", config, tmp_path / "trainer-1.log").start()
    second = WorkerProcess("trainer", config, tmp_path / "trainer-2.log")
    rng = random.Random()
    kill_after = rng.uniform(5.0, 9.0)
    producer = threading.Thread(target=produce, args=(settings, _events(3)),
                                kwargs={"rate": RATE}, daemon=True)  # fmt: skip
    store = CheckpointStore(settings.checkpoints.dir)
    port = settings.metrics.trainer_port
    try:
        wait_for(lambda: scrape(port) is not None, 60, "the first trainer's metrics", first)
        producer.start()
        time.sleep(kill_after)
        first.kill()
        killed_at = time.time()
        plan = store.newest_chain()
        assert plan.newest is not None, "no checkpoint before the kill"
        checkpoint = plan.newest
        resumed = {int(p): o for p, o in checkpoint.extra["offsets"]["partitions"].items()}
        second.start()
        producer.join(60)
        seq_port = settings.metrics.sequencer_port

        def caught_up() -> bool:
            emitted = metric_sum(scrape(seq_port), "recstream_sequencer_sequences_emitted_total")
            in_topic, due = _updates(settings, resumed)
            samples = scrape(port)
            read = metric_sum(samples, "recstream_trainer_sequence_updates_total")
            learned = metric_sum(samples, "recstream_trainer_freshness_seconds_count",
                                 since="event")  # fmt: skip
            return (
                metric_sum(scrape(seq_port), "recstream_sequencer_events_total") == EVENTS
                and in_topic == emitted
                and read == due
                and learned == read  # no step still running
            )

        wait_for(caught_up, 180, "the restarted trainer to catch up", second)
        samples = scrape(port)
        _in_topic, due = _updates(settings, resumed)
    finally:
        second.stop()
        first.stop()
        sequencer.stop()

    # The restart resumed at the checkpoint: its offsets, its version.
    assert metric_sum(samples, "recstream_trainer_restored_version") == checkpoint.model_version
    for partition, offset in resumed.items():
        got = metric_sum(samples, "recstream_trainer_resumed_offset", partition=str(partition))
        assert got == offset
    # No update skipped: the second trainer read every update from the checkpoint's
    # offsets to the end of each partition, no fewer (the caught-up condition above).
    read = metric_sum(samples, "recstream_trainer_sequence_updates_total")
    assert read == due > 0

    # Every user with an accepted event has a recommendation reflecting the newest one.
    newest: dict[str, tuple[float, str]] = {}
    for topic in settings.topics.events.values():
        for _key, value, _p, _o in read_topic(settings, topic):
            event = orjson.loads(value)
            newest[event["user_id"]] = max(newest.get(event["user_id"], (0.0, "")),
                                           (event["ts"], event["event_id"]))  # fmt: skip
    latest: dict[str, RecommendationMessage] = {}
    after_restart: list[int] = []
    for _k, value, _p, _o in read_topic(settings, settings.topics.recommendations):
        message = RecommendationMessage.from_json(value)
        latest[message.user_id] = message
        if message.published_ts > killed_at:
            after_restart.append(message.model_version)
    assert set(latest) == set(newest)
    for user, (_ts, event_id) in newest.items():
        assert latest[user].event_id == event_id, user
    # The model version continues from the checkpoint, never from scratch.
    assert min(after_restart) >= checkpoint.model_version
    assert max(after_restart) > checkpoint.model_version
    kinds = Counter(info.kind for info in CheckpointStore(settings.checkpoints.dir).checkpoints())
    assert kinds["full"] >= 1 and kinds["delta"] >= 1
    assert load_settings(config).checkpoints.every_steps == 4
