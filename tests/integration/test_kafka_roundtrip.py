"""A real broker carries keyed messages without loss, duplication or reordering per key."""

from __future__ import annotations

from collections import defaultdict

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from stream.data.event_files import read_taobao, shared_data_dir
from stream.kafka.client_options import kafka_python_options
from stream.kafka.roundtrip import round_trip
from stream.kafka.topics import create_topics
from stream.settings import Settings

pytestmark = pytest.mark.integration


def test_ten_thousand_keyed_messages_round_trip(kafka_settings: Settings) -> None:
    options = kafka_python_options(kafka_settings.kafka)
    topic = "test.roundtrip"
    admin = KafkaAdminClient(**options)
    admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}},
                        wait_for_metadata=True)  # fmt: skip
    admin.close()

    producer = KafkaProducer(**options, acks="all", linger_ms=5)
    sent: dict[str, list[int]] = defaultdict(list)
    for n in range(10_000):
        key = f"user-{n % 257}"
        sent[key].append(n)
        producer.send(topic, key=key.encode(), value=str(n).encode())
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        topic, **options, group_id="test-roundtrip", auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )  # fmt: skip
    received: dict[str, list[int]] = defaultdict(list)
    for record in consumer:
        received[record.key.decode()].append(int(record.value))
        if sum(map(len, received.values())) == 10_000:
            break
    consumer.close()

    values = sorted(v for vs in received.values() for v in vs)
    assert values == list(range(10_000)), "every message exactly once"
    assert received == sent, "per-key order is preserved"


def test_round_trip_of_real_taobao_events(kafka_settings: Settings) -> None:
    create_topics(kafka_settings)
    events = read_taobao(shared_data_dir() / "taobao-userbehavior-10k" / "UserBehavior.csv")[:3000]
    assert {e["action"] for e in events} == {"view", "click", "purchase"}
    report = round_trip(kafka_settings, events)
    assert report.lost == 0
    assert report.duplicated == 0
    assert sum(report.consumed.values()) == len(events)
    assert report.produced == report.consumed
