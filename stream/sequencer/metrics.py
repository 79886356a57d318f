"""The sequencer's Prometheus metrics, created against a registry (tests use a fresh one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stream.messages.events import Reason
from stream.sequencer.batch import BatchResult, RawMessage

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LENGTH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass(frozen=True)
class SequencerMetrics:
    events: Counter
    dead_letters: Counter
    duplicates: Counter
    sequences_emitted: Counter
    window_length: Histogram
    batch_size: Histogram
    processing_latency: Histogram
    consumer_lag: Gauge
    rewinds: Counter
    stage_cpu: Counter

    def record_batch(self, result: BatchResult, batch: list[RawMessage], now: float) -> None:
        """What one micro-batch did: events by outcome, dead letters by reason, windows."""
        self.batch_size.observe(len(batch))
        for topic, count in result.accepted.items():
            self.events.labels(topic=topic, outcome="accepted").inc(count)
        for letter in result.dead_letters:
            self.events.labels(topic=letter.source_topic, outcome="deadlettered").inc()
            self.dead_letters.labels(reason=str(letter.reason)).inc()
        self.duplicates.inc(result.duplicates)
        self.sequences_emitted.inc(len(result.updates))
        for update in result.updates:
            self.window_length.observe(len(update.items))
        for message in batch:
            if message.timestamp_s is not None:
                self.processing_latency.observe(max(0.0, now - message.timestamp_s))

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SequencerMetrics:
        metrics = cls(
            events=Counter(
                "recstream_sequencer_events",
                "Event messages read, by source topic and outcome (accepted or deadlettered).",
                ["topic", "outcome"],
                registry=registry,
            ),
            dead_letters=Counter(
                "recstream_sequencer_dead_letters",
                "Messages sent to the dead-letter topic, by reason code.",
                ["reason"],
                registry=registry,
            ),
            duplicates=Counter(
                "recstream_sequencer_duplicate_events",
                "Valid events whose event_id was already in the user's window.",
                registry=registry,
            ),
            sequences_emitted=Counter(
                "recstream_sequencer_sequences_emitted",
                "Sequence updates published to the sequences topic.",
                registry=registry,
            ),
            window_length=Histogram(
                "recstream_sequencer_window_length",
                "Length of each emitted window (events).",
                buckets=_LENGTH_BUCKETS,
                registry=registry,
            ),
            batch_size=Histogram(
                "recstream_sequencer_batch_size",
                "Messages per micro-batch.",
                buckets=_LENGTH_BUCKETS,
                registry=registry,
            ),
            processing_latency=Histogram(
                "recstream_sequencer_processing_latency_seconds",
                "Seconds from a message's Kafka timestamp until its batch goes to the producer.",
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            consumer_lag=Gauge(
                "recstream_sequencer_consumer_lag",
                "Events not yet committed by the sequencer group, by topic and partition "
                "(log end offset - committed offset, asked from the broker).",
                ["topic", "partition"],
                registry=registry,
            ),
            stage_cpu=Counter(
                "recstream_sequencer_stage_cpu_seconds",
                "CPU seconds of the agent's thread per stage of a micro-batch: process (parse, "
                "validate, read and update windows), table (window writes and their changelog "
                "messages), publish (dead letters and sequence updates to the producer).",
                ["stage"],
                registry=registry,
            ),
            rewinds=Counter(
                "recstream_sequencer_partition_rewinds",
                "Partitions this worker had read to their end without processing (records "
                "dropped in a rebalance) and re-read from the committed offset, by topic.",
                ["topic"],
                registry=registry,
            ),
        )
        # Every reason shows up as 0 from the start, so rates and alerts have a series.
        for reason in Reason:
            metrics.dead_letters.labels(reason=str(reason))
        return metrics
