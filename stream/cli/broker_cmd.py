"""``recstream broker start|stop|status``: the local single-node Kafka broker."""

from __future__ import annotations

import typer

from stream.cli.common import ConfigOption, console, settings_from, user_errors
from stream.local.broker import LocalBroker

app = typer.Typer(
    help="Run a local single-node Apache Kafka broker (KRaft) on 127.0.0.1.",
    no_args_is_help=True,
)


@app.command()
def start(config: ConfigOption = None) -> None:
    """Start the broker (fetching its jars once through Maven) and wait until it answers.

    Idempotent: when the broker already runs, say so and exit 0.
    """
    with user_errors():
        broker = LocalBroker.from_settings(settings_from(config))
        if not broker.jars_cached():
            console.print(f"fetching Apache Kafka {broker.version} jars into {broker.cache_dir} …")
        with console.status(f"starting Kafka {broker.version} on {broker.bootstrap} …"):
            started = broker.start()
        status = broker.status()
        if started:
            console.print(f"[green]broker started[/] on {status.bootstrap} (pid {status.pid})")
        else:
            console.print(f"broker already running on {status.bootstrap} (pid {status.pid})")
        console.print(f"data: {broker.data_dir}\nlog:  {status.log_file}", highlight=False)


@app.command()
def stop(config: ConfigOption = None) -> None:
    """Stop the broker that `start` started: SIGTERM, then SIGKILL after broker.stop_timeout_s."""
    with user_errors():
        broker = LocalBroker.from_settings(settings_from(config))
        if broker.stop():
            console.print(f"broker on {broker.bootstrap} stopped")
        else:
            console.print(f"no broker running from {broker.data_dir}")


@app.command()
def status(config: ConfigOption = None) -> None:
    """Say whether the broker runs, and its bootstrap address. Exit 0 running, 3 not running."""
    with user_errors():
        current = LocalBroker.from_settings(settings_from(config)).status()
        if current.running:
            console.print(f"running on {current.bootstrap} (pid {current.pid})")
        else:
            console.print(f"not running (would listen on {current.bootstrap})")
            raise typer.Exit(3)
