"""Produce events to the event topics and read every one back: a broker smoke check.

Used by ``recstream demo`` until the full pipeline runs there, and by the tests.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from stream.kafka.client_options import kafka_python_options
from stream.messages.events import RawEvent
from stream.settings import Settings


@dataclass(frozen=True)
class RoundTripReport:
    produced: dict[str, int]
    consumed: dict[str, int]
    lost: int
    duplicated: int
    produce_s: float
    consume_s: float


def _end_offsets(consumer: KafkaConsumer, topics: Sequence[str]) -> dict[TopicPartition, int]:
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic)
    ]
    offsets: dict[TopicPartition, int] = consumer.end_offsets(partitions)
    return offsets


def round_trip(
    settings: Settings,
    events: Sequence[RawEvent],
    progress: Callable[[int], None] = lambda _n: None,
    timeout_s: float = 60.0,
) -> RoundTripReport:
    """Produce ``events`` (key = user, one topic per action) and consume them back.

    Only messages written after the current end of each topic are read, so earlier
    data in the topics does not count. Each event carries a unique ``event_id``.
    """
    options = kafka_python_options(settings.kafka)
    topics = settings.topics.events
    consumer = KafkaConsumer(**options, enable_auto_commit=False, group_id=None)
    start = _end_offsets(consumer, list(topics.values()))
    consumer.assign(list(start))
    for partition, offset in start.items():
        consumer.seek(partition, offset)

    producer = KafkaProducer(**options, acks="all", linger_ms=5)
    produced: Counter[str] = Counter()
    run_id = f"{time.time_ns():x}"
    began = time.perf_counter()
    for index, event in enumerate(events):
        topic = topics[event["action"]]
        payload = {**event, "event_id": f"{run_id}-{index}"}
        producer.send(topic, key=event["user_id"].encode(), value=orjson.dumps(payload))
        produced[topic] += 1
    producer.flush()
    producer.close()
    produce_s = time.perf_counter() - began

    seen: Counter[str] = Counter()
    consumed: Counter[str] = Counter()
    began = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while sum(consumed.values()) < len(events) and time.monotonic() < deadline:
        for partition, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                event_id = orjson.loads(record.value).get("event_id", "")
                if event_id.startswith(run_id):
                    seen[event_id] += 1
                    consumed[partition.topic] += 1
        progress(sum(consumed.values()))
    consumer.close()
    return RoundTripReport(
        produced=dict(produced),
        consumed=dict(consumed),
        lost=len(events) - len(seen),
        duplicated=sum(count - 1 for count in seen.values()),
        produce_s=produce_s,
        consume_s=time.perf_counter() - began,
    )
