"""Cold start through the real broker: catalogue records and events as a user sends them
(``recstream produce --catalog``, ``produce --file``), a real trainer reading the
catalogue with the real text encoder, and the recommendations topic read back.

An item that is in the catalogue but has never been in an event must reach the users
whose recent items read like it, and a bad catalogue record must land in the dead-letter
topic with its reason, not stop anything.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.kafka.topics import create_topics
from stream.local.consumer_groups import wait_until_workers_ready
from stream.messages.recommendation import RecommendationMessage
from stream.settings import Settings, load_settings
from tests.integration.content_world import (
    CATEGORIES,
    USERS_PER_CATEGORY,
    catalogue,
    category_of,
    events,
)
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


def _with_content(config: Path) -> Settings:
    data = yaml.safe_load(config.read_text())
    data["content"] = {**data.get("content", {}), "enabled": True}
    config.write_text(yaml.safe_dump(data))
    return load_settings(config)


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in rows))
    return path


def test_a_catalogued_item_never_seen_in_events_reaches_users_of_its_kind(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    config, settings = isolated_settings(kafka_settings, tmp_path, "cold")
    settings = _with_content(config)
    create_topics(settings)
    sequencer = WorkerProcess("sequencer", config, tmp_path / "sequencer.log").start()
    trainer = WorkerProcess("trainer", config, tmp_path / "trainer.log").start()
    try:
        wait_until_workers_ready(settings, [sequencer, trainer])
        records = catalogue()
        loaded = cli(
            config, "produce", "--catalog", str(_write_jsonl(tmp_path / "c.jsonl", records))
        )
        assert loaded.returncode == 0, loaded.stderr
        assert f"sent {len(records)} catalogue records" in loaded.stdout
        producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all")
        producer.send(
            settings.topics.catalog, key=b"bad", value=b'{"item_id": "bad", "title": 7}'
        ).get(30)
        producer.close()
        port = settings.metrics.trainer_port

        def applied() -> bool:
            return metric_sum(scrape(port), "recstream_trainer_catalog_records_total",
                              outcome="applied") == len(records)  # fmt: skip

        wait_for(applied, 120, "the trainer to encode the catalogue", trainer)
        # Users act in their own category; the new items never appear in an event.
        now = time.time()
        first = _write_jsonl(tmp_path / "e1.jsonl", events(6, now - 120))
        last = _write_jsonl(tmp_path / "e2.jsonl", events(1, now - 30, seed=9))
        for file in (first, last):
            sent = cli(config, "produce", "--file", str(file), "--format", "jsonl", "--rate", "400")
            assert sent.returncode == 0, sent.stderr
        users = CATEGORIES * USERS_PER_CATEGORY
        expected = users * 7

        def learned() -> bool:
            return metric_sum(scrape(port), "recstream_trainer_ranked_events_total") >= expected

        wait_for(learned, 180, "the trainer to rank every event", trainer)
        samples = scrape(port)
    finally:
        trainer.stop()
        sequencer.stop()

    latest: dict[str, RecommendationMessage] = {}
    for _key, value, _p, _o in read_topic(settings, settings.topics.recommendations):
        message = RecommendationMessage.from_json(value)
        latest[message.user_id] = message
    assert len(latest) == CATEGORIES * USERS_PER_CATEGORY
    reached = 0
    for user, message in latest.items():
        new_items = [item for item in message.items if item.startswith("new-")]
        own = f"new-{category_of(user)}"
        if own in new_items:
            reached += 1
            assert new_items[0] == own, (user, message.items)  # above other new items
    assert reached >= 0.9 * len(latest), f"{reached} of {len(latest)} users got their new item"

    dead = [
        orjson.loads(value)
        for _k, value, _p, _o in read_topic(settings, settings.topics.deadletter)
    ]
    assert [(d["reason"], d["topic"]) for d in dead] == [("wrong_type", settings.topics.catalog)]
    assert metric_sum(samples, "recstream_trainer_catalog_records_total", outcome="wrong_type") == 1
    assert metric_sum(samples, "recstream_trainer_content_encoded_total") == len(catalogue())
    # Online quality by item age: every ranked event is in one age bucket.
    by_age = sum(metric_sum(samples, "recstream_trainer_ranked_by_item_age_total", age=age)
                 for age in ("1", "2-5", "6-20", "21+"))  # fmt: skip
    assert by_age == metric_sum(samples, "recstream_trainer_ranked_events_total")
    assert metric_sum(samples, "recstream_trainer_ranked_by_item_age_total", age="1") > 0
