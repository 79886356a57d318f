"""``recstream prometheus start|stop|status|check``: a local Prometheus for the workers."""

from __future__ import annotations

import typer

from stream.cli.common import ConfigOption, console, settings_from, user_errors
from stream.local.prometheus import (
    LocalPrometheus,
    install_tools,
    promtool_check,
    render_config,
)

app = typer.Typer(
    help="Run a local Prometheus (Debian's package) scraping this host's workers, with "
    "recstream's alert rules.",
    no_args_is_help=True,
)


def _local(config: ConfigOption) -> LocalPrometheus:
    settings = settings_from(config)
    return LocalPrometheus(settings.prometheus, settings.metrics)


@app.command()
def start(config: ConfigOption = None) -> None:
    """Start Prometheus on prometheus.host:port (installing it once) and wait until ready.

    It scrapes metrics.host:sequencer_port and :trainer_port every
    prometheus.scrape_interval_s and evaluates deploy/prometheus/rules. Idempotent.
    """
    with user_errors():
        local = _local(config)
        with console.status("starting Prometheus …"):
            started = local.start()
        status = local.status()
        verb = "[green]prometheus started[/]" if started else "prometheus already running"
        console.print(f"{verb} on {status.url} (pid {status.pid})")
        console.print(f"data: {local.data_dir}\nlog:  {status.log_file}", highlight=False)


@app.command()
def stop(config: ConfigOption = None) -> None:
    """Stop the Prometheus that `start` started."""
    with user_errors():
        local = _local(config)
        console.print("prometheus stopped" if local.stop() else "no prometheus running")


@app.command()
def status(config: ConfigOption = None) -> None:
    """Say whether it runs and what it scrapes. Exit 0 running, 3 not running."""
    with user_errors():
        local = _local(config)
        current = local.status()
        if not current.running:
            console.print(f"not running (would listen on {current.url})")
            raise typer.Exit(3)
        console.print(f"running on {current.url} (pid {current.pid})")
        for target in local.api("targets")["activeTargets"]:
            console.print(
                f"  {target['labels']['job']:<22} {target['scrapeUrl']:<36} {target['health']}"
                + (f"  {target['lastError']}" if target.get("lastError") else ""),
                highlight=False,
            )


@app.command()
def install(config: ConfigOption = None) -> None:
    """Make sure prometheus and promtool exist: PATH, else Debian's package unpacked once
    into prometheus.cache_dir (`apt-get download` + `dpkg-deb -x`; no root needed)."""
    with user_errors():
        tools = install_tools(settings_from(config).prometheus.cache_dir)
        console.print(
            f"prometheus: {tools.prometheus}\npromtool:   {tools.promtool}", highlight=False
        )


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the Prometheus config and alert rules with promtool (installing it once)."""
    with user_errors():
        settings = settings_from(config)
        local = LocalPrometheus(settings.prometheus, settings.metrics)
        tools = install_tools(settings.prometheus.cache_dir)
        rendered = render_config(settings.prometheus, settings.metrics, local.data_dir)
        console.print(promtool_check(tools, rendered).strip(), highlight=False)
