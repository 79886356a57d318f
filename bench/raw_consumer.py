"""The client's ceiling for ingest: aiokafka ``getmany`` + JSON decode, nothing else.

Run as ``python -m bench.raw_consumer CONFIG GROUP PORT``; it reads the configured event
topics from the start and counts decoded messages on a Prometheus counter, like the
sequencer and the empty Faust agent do, so one harness times all three.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry, Counter, Gauge

from stream.metrics.server import serve_metrics
from stream.settings import load_settings


async def consume(config: str, group: str, port: int) -> None:
    settings = load_settings(config)
    registry = CollectorRegistry()
    seen = Counter("bench_raw_consumer_events", "Messages decoded.", registry=registry)
    # It reads a backlog in well under a second: too fast to time by polling its
    # counter, so it times itself (first batch received -> last batch decoded).
    first = Gauge("bench_raw_consumer_first_batch_seconds", "When.", registry=registry)
    last = Gauge("bench_raw_consumer_last_batch_seconds", "When.", registry=registry)
    serve_metrics(registry, "127.0.0.1", port)
    consumer = AIOKafkaConsumer(
        *settings.topics.events.values(),
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    started = False
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=5_000)
            if batches and not started:
                first.set(time.perf_counter())
                started = True
            decoded = 0
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                decoded += len(records)
            if batches:
                # The time first, then the count: whoever sees the last event counted
                # also sees when it was decoded (``bench.ingest.measure`` reads both).
                last.set(time.perf_counter())
                seen.inc(decoded)
    finally:
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(consume(sys.argv[1], sys.argv[2], int(sys.argv[3])))
