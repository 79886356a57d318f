"""Start a trainer worker: its model (a checkpoint, a warm start or a new one), where its
group resumes reading, its metrics (seeded, then served), the Faust app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from model.runtime import configure_threads, describe_device
from stream.kafka.worker_runner import worker_state_dir
from stream.metrics.server import serve_metrics
from stream.settings import Settings
from stream.trainer.app import build_trainer_app
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.startup import (
    highest_published_version,
    prepare_learner,
    reset_group_offsets,
    resume_offsets_for,
)


def start_trainer(
    settings: Settings, model: str, worker_id: str, init_from: Path | None,
    say: Callable[[str], Any],
) -> Any:  # fmt: skip
    """The trainer's Faust app, ready to run; ``say`` reports checkpoint problems and
    where the metrics are. Raises FileNotFoundError when ``init_from`` holds no
    consistent checkpoint."""
    configure_threads(settings.trainer.torch_threads)
    registry = CollectorRegistry()
    metrics = TrainerMetrics.create(registry)
    start = prepare_learner(settings, model, metrics, init_from)
    for problem in start.problems:
        say(f"[yellow]checkpoint problem:[/] {problem}")
        metrics.checkpoint_problems.inc()
    if start.restored is not None:
        metrics.restored_version.set(start.restored.model_version)
    metrics.model_version.set(getattr(start.learner, "version", 0))
    offsets = resume_offsets_for(settings, start)
    reset_group_offsets(settings, offsets)
    published_version = highest_published_version(settings)
    for partition, offset in offsets.items():
        metrics.resumed_offset.labels(partition=str(partition)).set(offset)
    port = serve_metrics(registry, settings.metrics.host, settings.metrics.trainer_port)
    say(
        f"trainer: {model} ({start.origin}) on {describe_device(settings.trainer.device)}; "
        f"metrics on http://{settings.metrics.host}:{port}/metrics"
    )
    data_dir = worker_state_dir(settings.trainer.data_dir, settings.trainer.app_id, worker_id)
    faust_app, _loop = build_trainer_app(
        settings, registry, start.learner, data_dir, metrics=metrics,
        lifecycle=start.lifecycle, published_version=published_version,
    )  # fmt: skip
    return faust_app
