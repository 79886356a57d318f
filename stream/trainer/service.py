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
from stream.trainer.group_metrics import GroupMetrics
from stream.trainer.group_start import join_trainer_group, local_rank, start_in_group
from stream.trainer.metrics import TrainerMetrics
from stream.trainer.solo_replica import SoloReplica
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
    consistent checkpoint. In a trainer group (a launcher started it with WORLD_SIZE > 1)
    it is one rank of the group: same model, its own share of the partitions."""
    configure_threads(settings.trainer.torch_threads)
    registry = CollectorRegistry()
    metrics = TrainerMetrics.create(registry)
    replicas = join_trainer_group(settings)
    start = prepare_learner(settings, model, metrics, init_from)
    for problem in start.problems:
        say(f"[yellow]checkpoint problem:[/] {problem}")
        metrics.checkpoint_problems.inc()
    if start.restored is not None:
        metrics.restored_version.set(start.restored.model_version)
    metrics.model_version.set(getattr(start.learner, "version", 0))
    offsets = resume_offsets_for(settings, start)
    published_version = highest_published_version(settings)
    member, solo, port, who = None, None, settings.metrics.trainer_port, "trainer"
    if replicas is None:
        reset_group_offsets(settings, offsets)
        solo = SoloReplica(GroupMetrics.create(registry, rank=0, world_size=1),
                           settings.distributed.fingerprint_every_steps)  # fmt: skip
    else:
        member, published_version = start_in_group(
            settings, replicas, start, registry, published_version
        )
        worker_id = f"{worker_id}-rank{replicas.rank}"
        port = port + local_rank() if port else 0  # ranks on one host: one port each
        who = f"trainer rank {replicas.rank}/{replicas.world_size} ({replicas.backend})"
    for partition, offset in offsets.items():
        metrics.resumed_offset.labels(partition=str(partition)).set(offset)
    port = serve_metrics(registry, settings.metrics.host, port)
    say(
        f"{who}: {model} ({start.origin}) on {describe_device(settings.trainer.device)}; "
        f"metrics on http://{settings.metrics.host}:{port}/metrics"
    )
    if settings.content.enabled and hasattr(start.learner, "queue_content"):
        from stream.content.catalog_reader import CatalogReader

        if not getattr(start.learner, "content_dim", 0):
            # The model's shape is its checkpoint's: catalogue items still get rows, but
            # their text is not used until a model built with content starts.
            say(f"[yellow]content.enabled, but the model ({start.origin}) was built without "
                "content: the catalogue admits items, their text is ignored[/]")  # fmt: skip
        CatalogReader(settings, start.learner, registry).start()  # a daemon thread
        say(f"reading item content from {settings.topics.catalog}")
    data_dir = worker_state_dir(settings.trainer.data_dir, settings.trainer.app_id, worker_id)
    faust_app, _loop = build_trainer_app(
        settings, registry, start.learner, data_dir, metrics=metrics,
        lifecycle=start.lifecycle, published_version=published_version, member=member,
        solo=solo,
    )  # fmt: skip
    return faust_app
