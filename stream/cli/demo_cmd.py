"""``recstream demo``: what ``make demo`` runs (see stream/demo/run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stream.cli.common import ConfigOption, console, err_console, settings_from, user_errors
from stream.demo.run import DemoOptions, DemoRun


def demo(
    config: ConfigOption = None,
    rate: Annotated[float, typer.Option(min=1, help="Events per second to replay.")] = 300.0,
    duration: Annotated[
        float, typer.Option(min=5, help="Seconds of replay; the demo ends shortly after.")
    ] = 120.0,
    synthetic: Annotated[
        bool, typer.Option(help="Use the synthetic stream even when the Taobao data is present.")
    ] = False,
    keep_broker: Annotated[
        bool, typer.Option(help="Leave the broker running when the demo started it.")
    ] = False,
    keep_data: Annotated[
        bool, typer.Option(help="Keep the run's topics (demo-<time>.*) and worker state.")
    ] = False,
    out_dir: Annotated[
        Path, typer.Option(help="Where the plot, summary and worker logs go.")
    ] = Path(".recstream/demo"),
) -> None:
    """Run the whole pipeline locally and watch it learn.

    Starts a Kafka broker if none answers, creates the topics, starts a sequencer and
    a trainer, replays ../shared/data/taobao-userbehavior-96k (or a synthetic stream)
    at --rate events/s for --duration seconds, shows a live dashboard, then prints a
    summary and writes a PNG of quality and freshness over the run. Ctrl-C stops
    everything it started.
    """
    with user_errors():
        settings = settings_from(config)
        options = DemoOptions(
            rate=rate, duration_s=duration, synthetic=synthetic, keep_broker=keep_broker,
            keep_data=keep_data, out_dir=out_dir,
        )  # fmt: skip
        try:
            code = DemoRun(settings, config, options, console).run()
        except RuntimeError as exc:
            err_console.print(f"[bold red]demo failed:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)
