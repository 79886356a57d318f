"""A consumer group's lag as the broker sees it: log end offset minus committed offset.

Measured from the broker (like an external lag exporter), not from the worker's own
fetch state, so it keeps growing when a worker is alive but stuck: that is what the
"lag growing" alert needs. One OffsetFetch and one ListOffsets request per call.
"""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from stream.kafka_config import kafka_python_options
from stream.settings import Settings


class GroupLag:
    """Keeps one admin client and one group-less consumer open between measurements."""

    def __init__(self, settings: Settings) -> None:
        options = kafka_python_options(settings.kafka)
        self._admin = KafkaAdminClient(**options)
        self._consumer = KafkaConsumer(**options, group_id=None, enable_auto_commit=False)

    def measure(self, group_id: str, topics: list[str]) -> dict[tuple[str, int], int]:
        """{(topic, partition): messages not yet committed by ``group_id``}."""
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return {}
        committed = self._admin.list_group_offsets({group_id: partitions}).get(group_id, {})
        end = self._consumer.end_offsets(partitions)
        start = self._consumer.beginning_offsets(partitions)
        lag = {}
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else start[tp]
            lag[(tp.topic, tp.partition)] = max(0, end[tp] - done)
        return lag

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()
