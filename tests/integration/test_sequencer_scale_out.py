"""Two sequencer workers share the event partitions and together build every window."""

from __future__ import annotations

import random
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
from stream.messages.sequence_update import SequenceUpdate
from stream.messages.window import Window, apply_events
from stream.settings import Settings
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


def test_two_workers_split_the_partitions(kafka_settings: Settings, tmp_path: Path) -> None:
    config, settings = isolated_settings(kafka_settings, tmp_path, "seqscale")
    create_topics(settings)
    second = yaml.safe_load(config.read_text())
    second["metrics"]["sequencer_port"] = free_port_pair()
    second_config = tmp_path / "second.yaml"
    second_config.write_text(yaml.safe_dump(second))
    ports = [settings.metrics.sequencer_port, second["metrics"]["sequencer_port"]]

    workers = [
        WorkerProcess("sequencer", config, tmp_path / "w0.log", worker_id="0").start(),
        WorkerProcess("sequencer", second_config, tmp_path / "w1.log", worker_id="1").start(),
    ]
    sent: dict[str, list[Event]] = {}
    try:
        for worker, port in zip(workers, ports, strict=True):
            wait_for(lambda port=port: scrape(port) is not None, 60, "metrics", worker)  # type: ignore[misc]
        time.sleep(settings.kafka.session_timeout_s)  # let the group settle on two members
        rng = random.Random(3)
        producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all")
        now = time.time()
        for n in range(2_000):
            user = f"user-{rng.randrange(100)}"
            event = Event(user, f"i{n}", "view", now - 2_000 + n, f"e{n}")
            sent.setdefault(user, []).append(event)
            payload = {
                "user_id": user,
                "item_id": event.item_id,
                "ts": event.ts,
                "event_id": event.event_id,
            }
            producer.send(
                settings.topics.events["view"], key=user.encode(), value=orjson.dumps(payload)
            )
        producer.close()

        def totals() -> list[float]:
            return [metric_sum(scrape(p), "recstream_sequencer_events_total") for p in ports]

        wait_for(lambda: sum(totals()) >= 2_000, 120, "both workers to read every event")
        per_worker = totals()
    finally:
        for worker in workers:
            worker.stop()

    assert sum(per_worker) == 2_000
    assert all(count > 0 for count in per_worker), f"one worker got no partition: {per_worker}"
    latest: dict[str, SequenceUpdate] = {}
    for _k, value, _p, _o in read_topic(settings, settings.topics.sequences):
        for update in read_updates(value):
            latest[update.user_id] = update
    assert set(latest) == set(sent)
    for user, update in latest.items():
        expected = apply_events(
            Window(), sent[user], settings.window.max_events, settings.window.max_age_s
        )
        assert update.event_ids == expected.window.ids
