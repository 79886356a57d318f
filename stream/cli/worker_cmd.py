"""``recstream worker sequencer|trainer|trainers``: parse the options, start one Faust
worker (or, for ``trainers``, a group of trainer ranks under torchrun)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stream.cli.common import ConfigOption, console, kafka_settings_from, user_errors

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
    from stream.kafka.worker_runner import run_worker
    from stream.sequencer.service import start_sequencer

    with user_errors():
        settings = kafka_settings_from(config)
        faust_app = start_sequencer(settings, worker_id, say)
    run_worker(faust_app, loglevel, settings.sequencer.stop_grace_s)


def say(line: str) -> None:
    console.print(line, highlight=False)


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
    from stream.kafka.worker_runner import run_worker
    from stream.trainer.service import start_trainer

    with user_errors():
        settings = kafka_settings_from(config)
        if model not in MODEL_NAMES:
            raise typer.BadParameter(f"choose from {', '.join(MODEL_NAMES)}", param_hint="--model")
        try:
            faust_app = start_trainer(settings, model, worker_id, init_from, say)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc), param_hint="--init-from") from None
    run_worker(faust_app, loglevel, settings.trainer.stop_grace_s)


@app.command()
def trainers(
    ranks: Annotated[int, typer.Option("--ranks", min=1, help="Trainer ranks on this host.")] = 2,
    config: ConfigOption = None,
    worker_id: WorkerIdOption = "0",
    loglevel: LogLevelOption = "info",
) -> None:
    """Run N trainer ranks on this host as one trainer group: one model, the users split.

    Starts them under torchrun, which restarts the whole group (up to
    distributed.max_restarts times) when a rank fails; every start restores the newest
    checkpoint and resumes at its offsets. Each rank serves metrics on
    metrics.trainer_port + its local rank. For ranks on several hosts run torchrun
    yourself (README, "Scaling out").
    """
    import os

    from stream.trainer.launcher import torchrun_command, torchrun_environment

    with user_errors():
        settings = kafka_settings_from(config)
    command = torchrun_command(ranks, settings.distributed.max_restarts, config, worker_id,
                               loglevel)  # fmt: skip
    console.print(f"[bold]trainer group[/] of {ranks}: {' '.join(command[1:9])} ...")
    # torchrun takes this process's place (and its signals).
    os.execve(command[0], command, torchrun_environment(dict(os.environ)))
