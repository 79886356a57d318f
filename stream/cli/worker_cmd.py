"""``recstream worker sequencer``: run one Faust worker process."""

from __future__ import annotations

from typing import Annotated

import typer
from prometheus_client import CollectorRegistry

from stream.cli.common import ConfigOption, console, settings_from, user_errors
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


@app.command()
def sequencer(
    config: ConfigOption = None, worker_id: WorkerIdOption = "0", loglevel: LogLevelOption = "info"
) -> None:
    """Validate events, keep per-user windows, publish sequence updates, dead-letter bad input.

    Run several to share the event topics' partitions. Metrics are served on
    metrics.host:metrics.sequencer_port (/metrics). Stops cleanly on SIGTERM or Ctrl-C.
    """
    import faust

    from stream.sequencer_app import build_sequencer_app

    with user_errors():
        settings = settings_from(config)
        registry = CollectorRegistry()
        port = serve_metrics(registry, settings.metrics.host, settings.metrics.sequencer_port)
        console.print(f"sequencer metrics on http://{settings.metrics.host}:{port}/metrics")
        data_dir = settings.sequencer.data_dir / settings.sequencer.app_id / f"worker-{worker_id}"
        data_dir.mkdir(parents=True, exist_ok=True)
        faust_app = build_sequencer_app(settings, registry, data_dir)
    worker = faust.Worker(faust_app, loglevel=loglevel)
    # The start-up spinner sets the root logger to DEBUG when loglevel >= WARN, which
    # makes every debug call in aiokafka build a LogRecord (~10% of a busy worker).
    worker.spinner = None
    worker.execute_from_commandline()
