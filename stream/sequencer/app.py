"""The sequencer Faust app: event topics -> per-user windows -> ``recstream.sequences``.

The agent only wires Kafka to :func:`stream.sequencer.batch.process_batch`. Its
consumer hands it each partition's records of a fetch as one message
(:mod:`stream.kafka.partition_batch`: Faust's per-message path is paid per batch, not per
event); ``stream.take_events`` gathers those for ``window.coalesce_ms``, and they are
acked only after their outputs are handed to the producer. Faust flushes the producer
before it commits offsets, so every accepted event is in a published window or is
read again after a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry

from stream.kafka.faust_options import faust_app_options
from stream.kafka.lag_and_stuck_watch import watch_lag_and_stuck_partitions
from stream.kafka.lossless_consumer import lossless_app
from stream.kafka.partition_batch import PartitionBatch
from stream.kafka.topics import SEQUENCER_WINDOWS_TABLE
from stream.messages.sequence_batch import encode_batches
from stream.sequencer.batch import BatchResult, RawMessage, process_batch
from stream.sequencer.metrics import SequencerMetrics
from stream.sequencer.window_table import WindowTable
from stream.settings import Settings

PARTITION_BATCHES_BUFFERED = 64
_RAW: faust.Schema[bytes, bytes] = faust.Schema(
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


def consumer_options(settings: Settings) -> dict[str, Any]:
    """:func:`stream.kafka.lossless_consumer.lossless_app` options of the sequencer's consumer:
    every event topic read as partition batches."""
    seq = settings.sequencer
    return {
        "batched_topics": frozenset(settings.topics.events.values()),
        "fetch_wait_ms": seq.fetch_wait_ms,
        # A fetch brings at most one micro-batch of records, and the stream buffers a few
        # fetches' partition batches (Faust's default of 4096 messages would now be
        # millions of events held in memory).
        "broker_max_poll_records": seq.batch_max_events,
        "stream_buffer_maxsize": PARTITION_BATCHES_BUFFERED,
    }


def _raw_messages(event: Any) -> list[RawMessage]:
    """The Kafka records a partition batch of the agent carries (aiokafka
    ConsumerRecords, timestamps in ms): every event topic is read in batches."""
    message = event.message
    assert isinstance(message, PartitionBatch)
    # The bytes off the wire: parsing them ourselves is what lets malformed payloads
    # reach the dead-letter topic instead of Faust's decoder.
    return [_raw_record(record) for record in message.records]


def _raw_record(record: Any) -> RawMessage:
    timestamp_s = record.timestamp / 1000 if record.timestamp else None  # aiokafka: ms
    return RawMessage(
        record.topic, record.partition, record.offset, timestamp_s, record.key, record.value
    )


def build_sequencer_app(
    settings: Settings,
    registry: CollectorRegistry,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> faust.App:
    """A Faust app for one sequencer worker; nothing happens until a Worker runs it."""
    seq = settings.sequencer
    actions_by_topic = {topic: action for action, topic in settings.topics.events.items()}
    app = lossless_app(
        seq.app_id,
        settings.kafka.fill_offset_gaps,
        store="rocksdb://" if seq.store == "rocksdb" else "memory://",
        # Faust's setting for the class app.Table makes: the agent sends its changelog.
        Table=WindowTable,
        **consumer_options(settings),
        **faust_app_options(settings, data_dir or seq.data_dir),
    )
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, "faust_sequencer"))
    metrics = SequencerMetrics.create(registry)

    # Series exist at 0 before the first event, so Prometheus's rate() sees the first ones.
    for topic in actions_by_topic:
        for outcome in ("accepted", "deadlettered"):
            metrics.events.labels(topic=topic, outcome=outcome)
        metrics.rewinds.labels(topic=topic)
    source = app.topic(*actions_by_topic, schema=_RAW)
    sequences_topic = settings.topics.sequences
    deadletter_topic = settings.topics.deadletter
    # Co-partitioned with the event topics (same key, same partition count): a
    # user's window lives in the partition that carries the user's events.
    windows = app.Table(
        SEQUENCER_WINDOWS_TABLE,
        default=None,
        partitions=settings.topics.partitions,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
    )
    assert isinstance(windows, WindowTable)

    async def publish(result: BatchResult) -> None:
        producer = app.producer
        for letter in result.dead_letters:
            await producer.send(deadletter_topic, letter.key, letter.record, None, None, None)
        # One message per partition of the batch (stream.messages.sequence_batch), in the
        # partition its events came from: a user's updates stay in one partition.
        for partition, updates in result.updates_by_partition().items():
            for value in encode_batches(updates):
                await producer.send(sequences_topic, None, value, partition, None, None)

    progress = [0]  # messages processed: the stuck-partition check needs idle periods

    def record(result: BatchResult, batch: list[RawMessage], now: float) -> None:
        progress[0] += len(batch)
        metrics.record_batch(result, batch, now)

    watch_lag_and_stuck_partitions(
        app, settings, seq.app_id, list(actions_by_topic),
        lambda topic, partition, behind: metrics.consumer_lag.labels(
            topic=topic, partition=str(partition)).set(behind),
        on_rewind=lambda topic, _partition, _offset: metrics.rewinds.labels(topic=topic).inc(),
        processed=lambda: progress[0],
    )  # fmt: skip

    @app.agent(source, name="sequence")
    async def sequence(stream: faust.StreamT[Any]) -> None:
        # Agents receive a faust.Stream; take_events and _set_current_event live there.
        assert isinstance(stream, faust.Stream)
        within = settings.window.coalesce_ms / 1000 or 0.001
        stage_cpu = {stage: metrics.stage_cpu.labels(stage=stage)
                     for stage in ("process", "table", "publish")}  # fmt: skip

        async def step(batch: list[RawMessage], owners: list[Any]) -> None:
            """One micro-batch; ``owners[i]``: the agent's event that carried ``batch[i]``."""
            started = time.thread_time()  # CPU of this thread: the event loop's
            now = clock()
            # The stream's own task may hold a new message between setting it current and
            # take()'s buffer, which reads it once this iteration ends (faust/streams.py
            # _c_aiter, take_events): hand it back what it set.
            theirs = stream.current_event

            def load_window(user_id: str, index: int) -> Any:
                # With a message of the user as the current event, RocksDB reads the one
                # partition store that holds the window; without one Faust looks the key
                # up in every partition's store (faust/stores/rocksdb.py Store._get).
                stream._set_current_event(owners[index])
                return windows.get(user_id)

            result = process_batch(
                batch, actions_by_topic, load_window, settings.events, settings.window, now
            )
            processed = time.thread_time()
            stage_cpu["process"].inc(processed - started)
            for write in result.writes:
                # faust-streaming #497: take() leaves no current event, and a table write
                # needs one to pick the changelog partition (and the rocksdb partition).
                # Restore the context of a message of that user before writing.
                stream._set_current_event(owners[write.message_index])
                windows[write.user_id] = write.state
            stream._set_current_event(None)
            stream.current_event = theirs
            await windows.send_queued_changelog()
            written = time.thread_time()
            stage_cpu["table"].inc(written - processed)
            await publish(result)
            stage_cpu["publish"].inc(time.thread_time() - written)
            record(result, batch, clock())

        async for events in stream.take_events(seq.batch_max_events, within=within):
            batch: list[RawMessage] = []
            owners: list[Any] = []
            for event in events:  # partition batches, each at most batch_max_events records
                records = _raw_messages(event)
                if batch and len(batch) + len(records) > seq.batch_max_events:
                    await step(batch, owners)
                    batch, owners = [], []
                batch.extend(records)
                owners.extend([event] * len(records))
            if batch:
                await step(batch, owners)

    return app
