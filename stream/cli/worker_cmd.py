"""``recstream worker sequencer``: run one Faust worker process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry

from stream.cli.common import ConfigOption, console, kafka_settings_from, user_errors
from stream.metrics.server import serve_metrics

app = typer.Typer(help="Run recstream's stream processors (Faust workers).", no_args_is_help=True)

WorkerIdOption = Annotated[
    str,
    typer.Option(
        "--worker-id",
        help="Name of this worker's local state folder under the app's data_dir; "
        "give each worker on one host its own.",
    ),
]
LogLevelOption = Annotated[str, typer.Option(help="Faust log level (debug, info, warning).")]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model", help="transformer, or a baseline to serve instead: popularity, cooc, recent."
    ),
]


@app.command()
def sequencer(
    config: ConfigOption = None, worker_id: WorkerIdOption = "0", loglevel: LogLevelOption = "info"
) -> None:
    """Validate events, keep per-user windows, publish sequence updates, dead-letter bad input.

    Run several to share the event topics' partitions. Metrics are served on
    metrics.host:metrics.sequencer_port (/metrics). Stops cleanly on SIGTERM or Ctrl-C.
    """
    from stream.sequencer_app import build_sequencer_app
    from stream.topics import check_sequences_partitions

    with user_errors():
        settings = kafka_settings_from(config)
        check_sequences_partitions(settings)
        registry = CollectorRegistry()
        port = serve_metrics(registry, settings.metrics.host, settings.metrics.sequencer_port)
        console.print(f"sequencer metrics on http://{settings.metrics.host}:{port}/metrics")
        data_dir = settings.sequencer.data_dir / settings.sequencer.app_id / f"worker-{worker_id}"
        data_dir.mkdir(parents=True, exist_ok=True)
        faust_app = build_sequencer_app(settings, registry, data_dir)
    run_worker(faust_app, loglevel, settings.sequencer.stop_grace_s)


def run_worker(faust_app: Any, loglevel: str, stop_grace_s: float) -> None:
    """Run a Faust worker until it stops; it always ends within ``stop_grace_s`` after."""
    import faust

    from stream.exit_watchdog import ExitWatchdog
    from stream.log_noise import quiet_repeats

    worker = faust.Worker(faust_app, loglevel=loglevel)
    # The start-up spinner sets the root logger to DEBUG when loglevel >= WARN, which
    # makes every debug call in aiokafka build a LogRecord (~10% of a busy worker).
    worker.spinner = None
    quiet_repeats()
    ExitWatchdog(faust_app, worker, stop_grace_s).start()
    worker.execute_from_commandline()


InitFromOption = Annotated[
    Path | None,
    typer.Option(
        "--init-from",
        help="Checkpoint folder to start from when the trainer has none of its own "
        "(e.g. from `recstream replay --save-checkpoint`).",
    ),
]


@app.command()
def trainer(
    config: ConfigOption = None,
    worker_id: WorkerIdOption = "0",
    loglevel: LogLevelOption = "info",
    model: ModelOption = "transformer",
    init_from: InitFromOption = None,
) -> None:
    """Learn from sequence updates in micro-batches and publish each user's fresh top-k.

    Run one per accelerator. Uses the GPU when one is present (trainer.device: auto).
    On start it restores its newest consistent checkpoint (checkpoints.dir) and resumes
    the sequences topic at that checkpoint's offsets. Metrics on
    metrics.host:metrics.trainer_port (/metrics). Stops on SIGTERM or Ctrl-C.
    """
    from model.names import MODEL_NAMES
    from model.runtime import configure_threads, describe_device
    from stream.metrics.trainer import TrainerMetrics
    from stream.trainer_app import build_trainer_app
    from stream.trainer_startup import (
        highest_published_version,
        prepare_learner,
        reset_group_offsets,
        resume_offsets_for,
    )

    with user_errors():
        settings = kafka_settings_from(config)
        if model not in MODEL_NAMES:
            raise typer.BadParameter(f"choose from {', '.join(MODEL_NAMES)}", param_hint="--model")
        configure_threads(settings.trainer.torch_threads)
        registry = CollectorRegistry()
        metrics = TrainerMetrics.create(registry)
        try:
            start = prepare_learner(settings, model, metrics, init_from)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc), param_hint="--init-from") from None
        for problem in start.problems:
            console.print(f"[yellow]checkpoint problem:[/] {problem}", highlight=False)
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
        console.print(
            f"trainer: {model} ({start.origin}) on {describe_device(settings.trainer.device)}; "
            f"metrics on http://{settings.metrics.host}:{port}/metrics"
        )
        data_dir = settings.trainer.data_dir / settings.trainer.app_id / f"worker-{worker_id}"
        data_dir.mkdir(parents=True, exist_ok=True)
        faust_app, _loop = build_trainer_app(
            settings, registry, start.learner, data_dir, metrics=metrics,
            lifecycle=start.lifecycle, published_version=published_version,
        )  # fmt: skip
    run_worker(faust_app, loglevel, settings.trainer.stop_grace_s)
