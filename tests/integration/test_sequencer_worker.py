"""A real sequencer worker on a real broker: valid events into windows, bad ones dead-lettered."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.kafka.topics import create_topics
from stream.messages.sequence_batch import read_updates
from stream.messages.sequence_update import SequenceUpdate
from stream.settings import Settings
from tests.integration.processes import (
    WorkerProcess,
    isolated_settings,
    metric_sum,
    read_topic,
    scrape,
    wait_for,
)

pytestmark = pytest.mark.integration


def _bad_messages(
    now: float, view_topic: str, click_topic: str
) -> list[tuple[str, bytes, bytes, str]]:
    """(topic, key, value, expected reason) for every kind of bad input a producer can send."""

    def ok(**kw: Any) -> dict[str, Any]:
        return {"user_id": "mallory", "item_id": "i-1", "ts": now - 5, **kw}

    j = orjson.dumps
    return [
        (view_topic, b"mallory", b"\xff\xfe\xfa", "not_utf8"),
        (view_topic, b"mallory", b'{"user_id": "mallory", "item_id": ', "not_json"),
        (view_topic, b"mallory", j([1, 2]), "not_object"),
        (view_topic, b"mallory", j({"item_id": "i", "ts": now}), "missing_field"),
        (view_topic, b"mallory", j(ok(item_id=123)), "wrong_type"),
        (view_topic, b"mallory", j(ok(item_id="")), "empty_id"),
        (view_topic, b"mallory", j(ok(item_id="x" * 300)), "id_too_long"),
        (view_topic, b"mallory", j(ok(pad="y" * 20_000)), "payload_too_large"),
        (view_topic, b"mallory", j(ok(ts="last tuesday")), "bad_timestamp"),
        (view_topic, b"mallory", j(ok(ts=15)), "timestamp_out_of_range"),
        (view_topic, b"mallory", j(ok(ts=now + 86_400)), "timestamp_out_of_range"),
        (click_topic, b"mallory", j(ok(action="view")), "action_mismatch"),
        (view_topic, b"someone-else", j(ok()), "key_mismatch"),
    ]


def test_valid_events_reach_windows_and_bad_ones_the_dead_letter_topic(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    config, settings = isolated_settings(kafka_settings, tmp_path, "seqmix")
    create_topics(settings)
    topics = settings.topics.events
    rng = random.Random(7)
    now = time.time()

    # 60 users x 12 events, produced out of time order; a few sent twice (at-least-once upstream).
    valid: list[dict[str, Any]] = []
    outgoing: list[tuple[str, bytes, bytes, str | None]] = []  # topic, key, value, bad reason
    for u in range(60):
        for n in range(12):
            action = rng.choice(["view", "view", "view", "click", "purchase"])
            event: dict[str, Any] = {
                "user_id": f"user-{u}",
                "item_id": f"item-{rng.randrange(200)}",
                "ts": now - 3_600 + rng.uniform(0, 3_000),
                "event_id": f"e-{u}-{n}",
            }
            if n % 5 == 4:
                del event["event_id"]  # the sequencer derives one from topic/partition/offset
            valid.append(event)
            message = (topics[action], event["user_id"].encode(), orjson.dumps(event), None)
            outgoing.append(message)
            if n % 7 == 0 and "event_id" in event:
                outgoing.append(message)  # sent twice: the window must hold it once
    resent = len(outgoing) - len(valid)
    bad = _bad_messages(now, topics["view"], topics["click"])
    outgoing += bad
    rng.shuffle(outgoing)  # hostile input sits between good events

    producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all")
    bad_positions: dict[tuple[str, int, int], str] = {}
    for topic, key, value, reason in outgoing:
        meta = producer.send(topic, key=key, value=value).get(30)
        if reason is not None:
            bad_positions[(topic, meta.partition, meta.offset)] = reason
    producer.close()
    produced = len(outgoing)

    worker = WorkerProcess("sequencer", config, tmp_path / "sequencer.log").start()
    try:
        port = settings.metrics.sequencer_port

        def all_read() -> bool:
            return metric_sum(scrape(port), "recstream_sequencer_events_total") >= produced

        wait_for(all_read, 120, "the sequencer to read every message", worker)
        samples = scrape(port)
    finally:
        worker.stop()

    # (b) every bad message is in the dead-letter topic with the right reason.
    letters = [
        orjson.loads(value)
        for _k, value, _p, _o in read_topic(settings, settings.topics.deadletter)
    ]
    found = {(r["topic"], r["partition"], r["offset"]): r["reason"] for r in letters}
    assert found == bad_positions

    # (a) every valid event appears in its user's latest window, in ts order, exactly once.
    latest: dict[str, SequenceUpdate] = {}
    for _key, value, _p, _o in read_topic(settings, settings.topics.sequences):
        for update in read_updates(value):
            assert update.ts == sorted(update.ts)
            assert len(set(update.event_ids)) == len(update.event_ids)
            latest[update.user_id] = update
    assert "mallory" not in latest, "dead letters must not reach the windows"
    expected_ids: dict[str, set[str]] = defaultdict(set)
    for event in valid:
        expected_ids[event["user_id"]].add(event.get("event_id", ""))
    for user, update in latest.items():
        named = {eid for eid in update.event_ids if eid.startswith("e-")}
        assert named == expected_ids[user] - {""}
        assert len(update.event_ids) == 12
        derived = [eid for eid in update.event_ids if not eid.startswith("e-")]
        assert len(derived) == sum(1 for e in valid if e["user_id"] == user and "event_id" not in e)
        assert update.event_id == update.event_ids[-1]
    assert set(latest) == {f"user-{u}" for u in range(60)}

    # (c) valid + dead-lettered = produced, and (d) the scraped metrics agree.
    accepted = metric_sum(samples, "recstream_sequencer_events_total", outcome="accepted")
    deadlettered = metric_sum(samples, "recstream_sequencer_events_total", outcome="deadlettered")
    assert accepted == len(valid) + resent
    assert deadlettered == len(bad) == len(letters)
    assert accepted + deadlettered == produced
    by_reason = Counter(bad_positions.values())
    for reason, count in by_reason.items():
        assert metric_sum(samples, "recstream_sequencer_dead_letters_total", reason=reason) == count
    assert metric_sum(samples, "recstream_sequencer_duplicate_events_total") == resent
    assert metric_sum(samples, "recstream_sequencer_sequences_emitted_total") >= len(latest)
    # Faust hands the agent one message per partition and fetch (stream/kafka/partition_batch.py).
    assert 1 <= metric_sum(samples, "faust_sequencer_messages_received_total") < produced
