"""Start a sequencer worker's pieces: partition check, metrics server, state folder, app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from stream.kafka.topics import check_sequences_partitions
from stream.kafka.worker_runner import worker_state_dir
from stream.metrics.server import serve_metrics
from stream.sequencer.app import build_sequencer_app
from stream.settings import Settings


def start_sequencer(settings: Settings, worker_id: str, say: Callable[[str], Any]) -> Any:
    """The sequencer's Faust app, ready to run, with its /metrics served; ``say`` reports
    where (one line for the operator)."""
    check_sequences_partitions(settings)
    registry = CollectorRegistry()
    port = serve_metrics(registry, settings.metrics.host, settings.metrics.sequencer_port)
    say(f"sequencer metrics on http://{settings.metrics.host}:{port}/metrics")
    data_dir = worker_state_dir(settings.sequencer.data_dir, settings.sequencer.app_id, worker_id)
    return build_sequencer_app(settings, registry, data_dir)
