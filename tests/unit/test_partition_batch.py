"""Partition batches: the lossless consumer folds a fetch per partition, and acking a
batch moves the commit past its records only (stream/kafka/partition_batch.py); and the
fetch settings that let the broker fill a fetch first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from faust.types.tuples import ConsumerMessage

from stream.kafka.lossless_consumer import FULL_FETCH_BYTES, LosslessConsumer, lossless_app
from stream.kafka.partition_batch import (
    FoldedRecords,
    PartitionBatch,
    first_offset,
    fold_partitions,
)
from stream.sequencer.app import _raw_messages

VIEW, OTHER = TP("events.view", 0), TP("recstream.other", 0)


@dataclass
class Record:  # the fields Faust's _to_message reads off an aiokafka ConsumerRecord
    offset: int
    topic: str = "events.view"
    partition: int = 0
    timestamp: int | None = 1_700_000_000_500
    timestamp_type: int = 0
    headers: tuple[Any, ...] = ()
    key: bytes | None = b"user-1"
    value: bytes | None = b"{}"
    checksum: None = None
    serialized_key_size: int = 6
    serialized_value_size: int = 2


def records(*offsets: int) -> list[Record]:
    return [Record(offset) for offset in offsets]


def consumer(fill_offset_gaps: bool = False) -> LosslessConsumer:
    batched = frozenset({VIEW.topic})
    app = lossless_app(
        "partition-batch-test", fill_offset_gaps, batched, broker="kafka://127.0.0.1:1"
    )
    # No agent subscribes in a unit test; the worker's agents make these topics acked.
    app.topics.acks_enabled_for = lambda topic: True  # type: ignore[method-assign]
    built = app.consumer
    assert isinstance(built, LosslessConsumer)
    return built


def batch_of(c: LosslessConsumer, tp: TP, *offsets: int) -> PartitionBatch:
    (folded,) = fold_partitions({tp: records(*offsets)}, c.batched_topics)[tp]
    message = c._to_message(tp, folded)
    assert isinstance(message, PartitionBatch)
    return message


def test_only_the_batched_topics_are_folded_one_entry_per_partition() -> None:
    fetched = {VIEW: records(3, 4, 5), OTHER: records(7, 8), TP("events.view", 1): []}
    folded = fold_partitions(fetched, frozenset({VIEW.topic}))
    assert folded[VIEW] == [FoldedRecords(tuple(fetched[VIEW]))]
    assert folded[OTHER] == fetched[OTHER]  # handed over record by record as before
    assert folded[TP("events.view", 1)] == []


def test_a_batch_message_stands_for_its_records_newest_offset_first_offset() -> None:
    c = consumer()
    batch = batch_of(c, VIEW, 10, 11, 12)
    assert (batch.offset, batch.first_offset, first_offset(batch)) == (12, 10, 10)
    assert batch.timestamp == 1_700_000_000.5  # seconds, as Faust's messages carry them
    assert [r.offset for r in batch.records] == [10, 11, 12]
    plain = c._to_message(OTHER, Record(7, topic=OTHER.topic))
    assert type(plain) is ConsumerMessage and first_offset(plain) == 7


def test_acking_a_batch_commits_past_all_of_its_records() -> None:
    c = consumer()
    c._committed_offset[VIEW] = 10
    assert c.ack(batch_of(c, VIEW, 10, 11, 12, 13, 14))
    assert c._n_acked == 5
    assert c._new_offset(VIEW) == 15


def test_a_batch_after_a_hole_holds_the_commit_until_the_hole_is_acked() -> None:
    c = consumer()
    c._committed_offset[VIEW] = 10
    c.ack(batch_of(c, VIEW, 12, 13, 14))  # 10-11 are still with the agent
    assert c._new_offset(VIEW) is None
    c.ack(batch_of(c, VIEW, 10, 11))
    assert c._new_offset(VIEW) == 15


def test_records_below_the_commit_are_not_filed_again() -> None:
    c = consumer()
    c._committed_offset[VIEW] = 12  # a re-read batch straddles the commit
    c.ack(batch_of(c, VIEW, 10, 11, 12, 13))
    assert sorted(c._acked[VIEW]) == [12, 13] and c._new_offset(VIEW) == 14


def test_offsets_missing_inside_a_batch_count_only_when_gap_filling_is_on() -> None:
    strict, filling = consumer(), consumer(fill_offset_gaps=True)
    for c in (strict, filling):
        c._committed_offset[VIEW] = 10
        c.ack(batch_of(c, VIEW, 10, 12, 14))  # 11, 13: transaction markers, say
    assert strict._new_offset(VIEW) == 11  # kafka.fill_offset_gaps: false waits at 11
    assert filling._new_offset(VIEW) == 15


def test_the_gap_before_a_batch_ends_at_its_first_record_not_its_newest() -> None:
    c = consumer(fill_offset_gaps=True)
    c._batch = {VIEW: records(20, 21, 22, 23, 24, 25)}  # the fetch being handed over
    asyncio.run(c._add_gap(VIEW, 15, 25))  # Faust's call: read offset 14, message at 25
    assert [(gap.begin, gap.end) for gap in c._gap[VIEW]] == [(15, 20)]  # 15-19, end excluded
    c._batch = {VIEW: records(26, 27, 28, 29, 30)}  # the next fetch follows without a hole
    asyncio.run(c._add_gap(VIEW, 26, 30))
    assert len(c._gap[VIEW]) == 1


def test_a_batch_a_stream_passed_over_is_read_again_from_its_first_record() -> None:
    c = consumer()
    passed_over, taken = batch_of(c, VIEW, 10, 11, 12), batch_of(c, VIEW, 13, 14)
    taken.tracked = True
    c._in_streams.extend([passed_over, taken])
    assert c._skipped_by_streams() == {VIEW: 10}


def test_the_sequencer_reads_every_record_of_a_batch_with_its_own_timestamp() -> None:
    batch = batch_of(consumer(), VIEW, 10, 11)
    batch.records[0].timestamp = 1_700_000_000_000
    raw = _raw_messages(SimpleNamespace(message=batch))
    assert [(m.offset, m.timestamp_s, m.value) for m in raw] == [
        (10, 1_700_000_000.0, b"{}"), (11, 1_700_000_000.5, b"{}")]  # fmt: skip


def test_the_broker_may_hold_a_fetch_of_a_tuned_app_to_fill_it() -> None:
    async def fetch_settings(fetch_wait_ms: int | None) -> tuple[int, int]:
        app = lossless_app("fetch-test", False, fetch_wait_ms=fetch_wait_ms,
                           broker="kafka://127.0.0.1:1")  # fmt: skip
        consumer = app.consumer
        assert isinstance(consumer, LosslessConsumer)
        created = consumer._thread._create_worker_consumer(app.transport)  # type: ignore[arg-type]
        try:
            return created._fetch_max_wait_ms, created._fetch_min_bytes
        finally:
            await created.stop()  # never started: releases what the constructor made

    assert asyncio.run(fetch_settings(20)) == (20, FULL_FETCH_BYTES)
    # 0: as soon as a record is there, as Faust does (a max wait of 0 would busy-loop).
    assert asyncio.run(fetch_settings(0)) == (1500, 1)
    assert asyncio.run(fetch_settings(None)) == (1500, 1)  # Faust's own settings
