"""A consumer group's offsets as the broker sees them: log start, committed, log end.

Measured from the broker (like an external lag exporter), not from the worker's own
fetch state, so lag keeps growing when a worker is alive but stuck: that is what the
"lag growing" alert needs. One OffsetFetch and two ListOffsets requests per call.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from stream.kafka.client_options import kafka_python_options
from stream.settings import Settings


@dataclass(frozen=True)
class PartitionOffsets:
    start: int  # the log start offset
    committed: int | None  # None: the group never committed this partition
    end: int  # the log end offset (the next offset to be written)

    @property
    def done(self) -> int:
        """The first offset the group has not processed."""
        return self.committed if self.committed is not None else self.start

    @property
    def lag(self) -> int:
        return max(0, self.end - self.done)


class GroupLag:
    """Keeps one admin client and one group-less consumer open between measurements."""

    def __init__(self, settings: Settings) -> None:
        options = kafka_python_options(settings.kafka)
        self._admin = KafkaAdminClient(**options)
        self._consumer = KafkaConsumer(**options, group_id=None, enable_auto_commit=False)

    def measure(self, group_id: str, topics: list[str]) -> dict[tuple[str, int], PartitionOffsets]:
        """{(topic, partition): offsets} for every partition of ``topics``."""
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
        out = {}
        for tp in partitions:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            out[(tp.topic, tp.partition)] = PartitionOffsets(start[tp], offset, end[tp])
        return out

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()
