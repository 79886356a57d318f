"""SIGKILL a sequencer mid-stream and restart it: its final windows equal an uninterrupted run's."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.kafka.topics import create_topics
from stream.messages.events import Event
from stream.messages.sequence_batch import read_updates
from stream.messages.window import Window, apply_events
from stream.settings import Settings, load_settings
from tests.conftest import free_port_pair
from tests.integration.processes import (
    WorkerProcess,
    isolated_settings,
    metric_sum,
    read_topic,
    scrape,
    wait_for,
)

pytestmark = pytest.mark.integration

USERS, PER_USER = 400, 50  # 20,000 events; windows hold 20, so trimming is exercised


def _final_windows(settings: Settings, topic: str) -> dict[str, list[str]]:
    latest: dict[str, list[str]] = {}
    for _k, value, _p, _o in read_topic(settings, topic):
        for update in read_updates(value):
            latest[update.user_id] = update.event_ids
    return latest


def _second_app(config: Path, tmp_path: Path) -> Path:
    """Same input topics, another consumer group, state folder, output topic, port and
    micro-batch size."""
    data = yaml.safe_load(config.read_text())
    data["sequencer"]["app_id"] += "-reference"
    data["sequencer"]["data_dir"] = str(tmp_path / "reference-state")
    data["topics"]["sequences"] += "-reference"
    data["metrics"]["sequencer_port"] = free_port_pair()
    # Small fetches: each take() iteration of the agent then holds several micro-batches
    # (stream/sequencer/app.py), and both runs must still agree window for window.
    data["sequencer"]["batch_max_events"] = 64
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_sigkill_and_restart_loses_and_doubles_nothing(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    config, settings = isolated_settings(kafka_settings, tmp_path, "seqkill")
    reference_config = _second_app(config, tmp_path)
    reference_settings = load_settings(reference_config)
    create_topics(settings)
    create_topics(reference_settings)

    rng = random.Random(11)
    now = time.time()
    actions = list(settings.topics.events)
    events = [
        Event(
            f"user-{u}",
            f"item-{rng.randrange(5_000)}",
            rng.choice(actions),
            now - 7_200 + rng.uniform(0, 7_000),
            f"e-{u}-{n}",
        )
        for u in range(USERS)
        for n in range(PER_USER)
    ]
    rng.shuffle(events)

    def produce() -> None:
        producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all", linger_ms=5)
        for i, e in enumerate(events):
            payload = {
                "user_id": e.user_id,
                "item_id": e.item_id,
                "ts": e.ts,
                "event_id": e.event_id,
            }
            producer.send(
                settings.topics.events[e.action],
                key=e.user_id.encode(),
                value=orjson.dumps(payload),
            )
            if i % 2_000 == 1_999:
                producer.flush()
                time.sleep(0.3)  # a stream, not one burst: the kill lands mid-stream
        producer.close()

    victim = WorkerProcess("sequencer", config, tmp_path / "victim.log").start()
    reference = WorkerProcess("sequencer", reference_config, tmp_path / "reference.log").start()
    producer_thread = threading.Thread(target=produce)
    try:
        port = settings.metrics.sequencer_port
        wait_for(lambda: scrape(port) is not None, 60, "the worker's metrics endpoint", victim)
        producer_thread.start()
        wait_for(
            lambda: metric_sum(scrape(port), "recstream_sequencer_events_total") >= 4_000,
            120, "the first 4,000 events", victim,
        )  # fmt: skip
        read_before_kill = metric_sum(scrape(port), "recstream_sequencer_events_total")
        victim.kill()
        producer_thread.join(120)
        restarted = WorkerProcess("sequencer", config, tmp_path / "restarted.log").start()
        try:
            expected = {}
            by_user: dict[str, list[Event]] = {}
            for e in events:
                by_user.setdefault(e.user_id, []).append(e)
            for user, user_events in by_user.items():
                window = apply_events(Window(), user_events, settings.window.max_events,
                                      settings.window.max_age_s).window  # fmt: skip
                expected[user] = window.ids

            def converged(topic: str) -> bool:
                return _final_windows(settings, topic) == expected

            wait_for(lambda: converged(settings.topics.sequences), 180,
                     "the restarted worker's windows to converge", restarted)  # fmt: skip
            wait_for(lambda: converged(reference_settings.topics.sequences), 120,
                     "the uninterrupted worker's windows", reference)  # fmt: skip
            read_after_restart = metric_sum(scrape(port), "recstream_sequencer_events_total")
        finally:
            restarted.stop()
    finally:
        victim.kill()
        reference.stop()
        if producer_thread.is_alive():
            producer_thread.join(60)

    # The kill landed mid-stream, and the restarted worker read at least what was left.
    assert read_before_kill < len(events)
    assert read_after_restart >= len(events) - read_before_kill
    after_restart = _final_windows(settings, settings.topics.sequences)
    uninterrupted = _final_windows(settings, reference_settings.topics.sequences)
    assert after_restart == uninterrupted
    assert len(after_restart) == USERS
    assert all(
        len(ids) == len(set(ids)) == settings.window.max_events for ids in after_restart.values()
    )
