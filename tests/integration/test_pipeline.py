"""The whole loop with real processes: events -> sequencer -> trainer -> recommendations.

Events go in through ``recstream produce`` and come out through ``recstream consume``,
the way a user runs them; both workers are real processes on the real broker, and
their /metrics are scraped over HTTP.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.kafka.topics import create_topics
from stream.local.consumer_groups import wait_until_workers_ready
from stream.messages.recommendation import RecommendationMessage
from stream.messages.sequence_batch import read_updates
from stream.settings import Settings
from tests.integration.processes import (
    WorkerProcess,
    cli,
    isolated_settings,
    metric_sum,
    read_topic,
    scrape,
    wait_for,
)

pytestmark = pytest.mark.integration

USERS, ITEMS = 240, 150


def _write_events(path: Path) -> int:
    """A JSONL stream: every user acts 2-6 times, in time order, over 150 items."""
    rng = random.Random(5)
    rows: list[dict[str, Any]] = []
    for u in range(USERS):
        for _ in range(rng.randint(2, 6)):
            action = rng.choice(["view", "view", "view", "click", "purchase"])
            rows.append({"user_id": f"user-{u}", "item_id": f"item-{rng.randrange(ITEMS)}",
                         "action": action, "ts": 1_700_000_000 + rng.uniform(0, 600)})  # fmt: skip
    rows.sort(key=lambda row: row["ts"])
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in rows))
    return len(rows)


def _send_bad_input(settings: Settings) -> int:
    """Events the sequencer must dead-letter: none may reach the trainer."""
    view = settings.topics.events["view"]
    bad = [
        b"not json at all",
        orjson.dumps({"user_id": "mallory", "item_id": "", "ts": time.time()}),
        orjson.dumps({"user_id": "mallory", "item_id": "item-1", "ts": "yesterday-ish"}),
    ]
    producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all")
    for value in bad:
        producer.send(view, key=b"mallory", value=value).get(30)
    producer.close()
    return len(bad)


def test_every_user_gets_a_recommendation_reflecting_their_newest_event(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    config, settings = isolated_settings(kafka_settings, tmp_path, "e2e")
    create_topics(settings)
    k = settings.trainer.top_k
    sequencer = WorkerProcess("sequencer", config, tmp_path / "sequencer.log").start()
    trainer = WorkerProcess("trainer", config, tmp_path / "trainer.log").start()
    try:
        # Events must arrive while the trainer runs, so that it learns step by step. The
        # CLI starts in 0.5 s since it stopped importing torch: without this wait, the
        # whole stream could be in Kafka before the trainer joined (one merged step).
        wait_until_workers_ready(settings, [sequencer, trainer])
        events_file = tmp_path / "events.jsonl"
        produced = _write_events(events_file)
        bad = _send_bad_input(settings)
        result = cli(config, "produce", "--file", str(events_file), "--format", "jsonl",
                     "--rate", "400")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"sent {produced:,} events" in result.stdout

        seq_port, trainer_port = settings.metrics.sequencer_port, settings.metrics.trainer_port

        def caught_up() -> bool:
            emitted = metric_sum(scrape(seq_port), "recstream_sequencer_sequences_emitted_total")
            trainer_samples = scrape(trainer_port)
            read = metric_sum(trainer_samples, "recstream_trainer_sequence_updates_total")
            # An update counts in the freshness histogram once its step has finished and
            # its recommendation was published: pending == 0 alone misses a running step.
            learned = metric_sum(trainer_samples, "recstream_trainer_freshness_seconds_count",
                                 since="event")  # fmt: skip
            events = metric_sum(scrape(seq_port), "recstream_sequencer_events_total")
            return events == produced + bad and read == emitted == learned

        wait_for(caught_up, 180, "the trainer to learn every sequence update", trainer)
        seq_samples, trainer_samples = scrape(seq_port), scrape(trainer_port)
        tail = cli(config, "consume", "--from-beginning", "--json", "--max", "5",
                   "--timeout", "20")  # fmt: skip
    finally:
        trainer.stop()
        sequencer.stop()

    # What was produced, read back from the event topics (ids are the producer's).
    newest: dict[str, tuple[float, str]] = {}
    items_produced: set[str] = set()
    for topic in settings.topics.events.values():
        for key, value, _p, _o in read_topic(settings, topic):
            if key == b"mallory":
                continue
            event = orjson.loads(value)
            items_produced.add(event["item_id"])
            newest[event["user_id"]] = max(newest.get(event["user_id"], (0.0, "")),
                                           (event["ts"], event["event_id"]))  # fmt: skip
    assert len(newest) == USERS

    latest: dict[str, RecommendationMessage] = {}
    versions: dict[int, list[int]] = defaultdict(list)
    lengths: dict[int, list[int]] = defaultdict(list)
    recommendations = list(read_topic(settings, settings.topics.recommendations))
    for key, value, partition, _offset in recommendations:
        message = RecommendationMessage.from_json(value)
        assert key == message.user_id.encode()
        assert 0 < len(message.items) <= k and len(set(message.items)) == len(message.items)
        assert set(message.items) <= items_produced
        assert message.published_ts >= message.event_ts
        latest[message.user_id] = message
        versions[partition].append(message.model_version)
        lengths[partition].append(len(message.items))
    # Fewer than k items only while the catalogue seen so far had fewer than k: once a
    # partition has carried a full list, every later one is full (nothing is evicted).
    for partition_lengths in lengths.values():
        first_full = partition_lengths.index(k)
        assert all(length == k for length in partition_lengths[first_full:])
    assert all(len(message.items) == k for message in latest.values())

    # Every user with a valid event got one reflecting their newest event; mallory none.
    assert set(latest) == set(newest)
    for user, (ts, event_id) in newest.items():
        assert (latest[user].event_id, latest[user].event_ts) == (event_id, ts), user
    # The model keeps learning: versions never go back and end well above the start.
    for partition_versions in versions.values():
        assert partition_versions == sorted(partition_versions)
    final_version = max(v for vs in versions.values() for v in vs)
    assert final_version > 1

    # Both processes' metrics agree with the topics and with each other.
    sequences = [update for _k, value, _p, _o in read_topic(settings, settings.topics.sequences)
                 for update in read_updates(value)]  # fmt: skip
    assert metric_sum(seq_samples, "recstream_sequencer_events_total", outcome="accepted") == (
        produced
    )
    assert metric_sum(seq_samples, "recstream_sequencer_events_total", outcome="deadlettered") == (
        bad
    )
    assert metric_sum(seq_samples, "recstream_sequencer_sequences_emitted_total") == len(sequences)
    assert metric_sum(trainer_samples, "recstream_trainer_sequence_updates_total") == len(sequences)
    assert metric_sum(trainer_samples, "recstream_trainer_invalid_updates_total") == 0
    published = metric_sum(trainer_samples, "recstream_trainer_recommendations_published_total")
    assert published == len(recommendations)
    fresh = metric_sum(trainer_samples, "recstream_trainer_freshness_seconds_count", since="event")
    assert fresh == len(sequences)
    assert metric_sum(trainer_samples, "recstream_trainer_model_version") >= final_version
    # Every step that publishes moves the version on: an optimiser step, or a new number
    # for the same weights after a step that only ranked.
    stepped = sum(metric_sum(trainer_samples, "recstream_trainer_steps_total", outcome=outcome)
                  for outcome in ("learned", "ranked"))  # fmt: skip
    assert stepped == metric_sum(trainer_samples, "recstream_trainer_model_version")
    assert metric_sum(trainer_samples, "recstream_trainer_vocabulary_size") == len(items_produced)
    assert metric_sum(trainer_samples, "recstream_trainer_ranked_events_total") >= produced
    assert 0 < metric_sum(trainer_samples, "recstream_trainer_online_ndcg_at_10") <= 1

    # `recstream consume` shows the same messages a client would read.
    assert tail.returncode == 0, tail.stderr
    lines = [RecommendationMessage.from_json(line.encode()) for line in tail.stdout.splitlines()]
    assert len(lines) == 5 and all(m.user_id in newest for m in lines)
