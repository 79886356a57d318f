"""One Faust message per partition of a fetch, for agents that work in micro-batches.

Faust hands every Kafka record to the agents on its own: a ``wait_first`` of two tasks
in the fetcher, the conductor, a channel queue, the stream's iteration and its sensors.
py-spy put that path at ~20 % of the sequencer's CPU at 1,000 events/s, and an agent
that does nothing drains at most ~5k events/s on this box (bench/NOTES.md). The
sequencer processes micro-batches anyway, so for the topics named in
``LosslessApp.batched_topics`` :class:`stream.kafka.lossless_consumer.LosslessConsumer`
folds each partition's records of one fetch into a single :class:`PartitionBatch`:
Faust's path is paid once per partition and fetch, and the agent reads
``message.records``. Acking the batch acks the offset of every record in it, so the
commit never passes a record whose batch the agent has not finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import TP
from faust.types.tuples import ConsumerMessage


@dataclass(frozen=True, slots=True)
class FoldedRecords:
    """Stands for one partition's records of a fetch until Faust makes it a message."""

    records: tuple[Any, ...]  # aiokafka ConsumerRecords of one partition, oldest first


class PartitionBatch(ConsumerMessage):
    """A Faust message that carries ``records`` (aiokafka ConsumerRecords of ``tp``).

    Its ``offset`` and ``timestamp`` are the newest record's: Faust's read-offset
    bookkeeping then moves past the whole batch, as it would record by record.
    """

    def __init__(self, tp: TP, records: Sequence[Any], generation_id: int | None) -> None:
        last = records[-1]
        # Faust types the timestamp as float but its own _to_message passes None too.
        timestamp: Any = last.timestamp / 1000.0 if last.timestamp is not None else None
        super().__init__(
            tp.topic, tp.partition, last.offset,
            timestamp, last.timestamp_type, [], None, b"", None, 0, 0, tp,
            generation_id=generation_id,
        )  # fmt: skip
        self.records: tuple[Any, ...] = tuple(records)

    @property
    def first_offset(self) -> int:
        return int(self.records[0].offset)


def fold_partitions(
    records: Mapping[TP, Sequence[Any]], topics: frozenset[str]
) -> dict[TP, list[Any]]:
    """A fetch's records with each partition of ``topics`` folded into one entry."""
    return {
        tp: [FoldedRecords(tuple(batch))] if tp.topic in topics and batch else list(batch)
        for tp, batch in records.items()
    }


def first_offset(message: Any) -> int:
    """The oldest offset a message handed to the streams stands for."""
    return message.first_offset if isinstance(message, PartitionBatch) else int(message.offset)


def offsets_in(batch: PartitionBatch, fill_gaps: bool) -> list[int]:
    """The offsets acking ``batch`` acks: its records', or with gap filling on every
    offset from its first to its newest (the ones between are transaction markers or
    compacted away: ``kafka.fill_offset_gaps``)."""
    if fill_gaps:
        return list(range(batch.first_offset, batch.offset + 1))
    return [int(record.offset) for record in batch.records]
