"""The reference for sequencer ingest: a Faust agent that does nothing with each event.

Run as ``python -m bench.empty_agent CONFIG APP_ID PORT DATA_DIR``; it counts messages from the
configured event topics on a Prometheus counter, like the sequencer does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CollectorRegistry, Counter

from stream.faust_config import faust_app_options
from stream.metrics.server import serve_metrics
from stream.settings import load_settings


def main(config: str, app_id: str, port: int, data_dir: str) -> None:
    settings = load_settings(config)
    registry = CollectorRegistry()
    seen = Counter(
        "bench_empty_agent_events", "Messages the empty agent iterated.", registry=registry
    )
    serve_metrics(registry, "127.0.0.1", port)
    app = faust.App(app_id, **faust_app_options(settings, Path(data_dir)))
    raw: faust.Schema[bytes, bytes] = faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    source = app.topic(*settings.topics.events.values(), schema=raw)

    @app.agent(source)
    async def empty(stream: faust.StreamT[Any]) -> None:
        async for _event in stream.events():
            seen.inc()

    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
