"""Read a whole topic without a consumer group: the CLI's tail, the demo and the tests."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition

from stream.kafka.client_options import kafka_python_options
from stream.settings import Settings


def assigned_consumer(
    settings: Settings, topic: str, from_beginning: bool
) -> tuple[KafkaConsumer, list[TopicPartition]]:
    """A group-less consumer on every partition of ``topic``, at its start or its end.

    No partitions (the topic does not exist) comes back as an empty list; the caller
    closes the consumer.
    """
    consumer = KafkaConsumer(**kafka_python_options(settings.kafka), group_id=None,
                             enable_auto_commit=False)  # fmt: skip
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    if partitions:
        consumer.assign(partitions)
        if from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.seek_to_end(*partitions)
            for partition in partitions:
                consumer.position(partition)  # resolve the end now: later messages count
    return consumer, partitions


def read_topic(
    settings: Settings, topic: str, timeout_s: float = 30.0
) -> Iterator[tuple[bytes | None, bytes, int, int]]:
    """Every message now in ``topic``: (key, value, partition, offset)."""
    consumer, partitions = assigned_consumer(settings, topic, from_beginning=True)
    try:
        end = consumer.end_offsets(partitions) if partitions else {}
        remaining = {tp: end[tp] for tp in partitions if end[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset < end[tp]:
                        yield record.key, record.value, tp.partition, record.offset
                if consumer.position(tp) >= end[tp]:
                    remaining.pop(tp, None)
    finally:
        consumer.close()


def read_tail(
    settings: Settings, topic: str, per_partition: int, timeout_s: float = 15.0
) -> list[bytes]:
    """The values of the last ``per_partition`` messages of each partition of ``topic``."""
    consumer, partitions = assigned_consumer(settings, topic, from_beginning=True)
    values: list[bytes] = []
    try:
        if not partitions:
            return values
        start, end = consumer.beginning_offsets(partitions), consumer.end_offsets(partitions)
        remaining = {}
        for tp in partitions:
            if end[tp] > start[tp]:
                consumer.seek(tp, max(start[tp], end[tp] - per_partition))
                remaining[tp] = end[tp]
            else:
                consumer.pause(tp)
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                values.extend(r.value for r in records if r.offset < end[tp] and r.value)
                if consumer.position(tp) >= end[tp]:
                    remaining.pop(tp, None)
                    consumer.pause(tp)
        if remaining:
            raise TimeoutError(f"could not read the end of {topic} within {timeout_s:.0f} s")
        return values
    finally:
        consumer.close()
