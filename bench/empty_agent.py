"""The reference for sequencer ingest: a Faust agent that does nothing with each event.

Run as ``python -m bench.empty_agent CONFIG APP_ID PORT DATA_DIR [batched]``; it counts
the events of the configured event topics on a Prometheus counter, like the sequencer
does. With ``batched`` it reads through the sequencer's consumer, one message per
partition and fetch (stream/kafka/partition_batch.py): the floor of the sequencer's own path.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CollectorRegistry, Counter

from stream.kafka.faust_options import faust_app_options
from stream.kafka.lossless_consumer import lossless_app
from stream.kafka.partition_batch import PartitionBatch
from stream.metrics.server import serve_metrics
from stream.sequencer.app import consumer_options
from stream.settings import load_settings


def main(config: str, app_id: str, port: int, data_dir: str, batched: bool) -> None:
    settings = load_settings(config)
    registry = CollectorRegistry()
    seen = Counter(
        "bench_empty_agent_events", "Messages the empty agent iterated.", registry=registry
    )
    serve_metrics(registry, "127.0.0.1", port)
    options = faust_app_options(settings, Path(data_dir))
    topics = frozenset(settings.topics.events.values())
    if batched:
        app = lossless_app(app_id, False, **consumer_options(settings), **options)
    else:
        app = faust.App(app_id, **options)
    raw: faust.Schema[bytes, bytes] = faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    source = app.topic(*topics, schema=raw)

    @app.agent(source)
    async def empty(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            seen.inc(len(message.records) if isinstance(message, PartitionBatch) else 1)

    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:] == ["batched"])
