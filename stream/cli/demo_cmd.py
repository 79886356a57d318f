"""``recstream demo``: what ``make demo`` runs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stream.broker import LocalBroker, broker_answers
from stream.cli.common import ConfigOption, console, settings_from, user_errors
from stream.event_files import RawEvent, read_taobao, shared_data_dir, uniform_events
from stream.roundtrip import round_trip
from stream.topics import create_topics


def _demo_events(count: int) -> tuple[str, list[RawEvent]]:
    taobao = shared_data_dir() / "taobao-userbehavior-96k" / "UserBehavior.csv"
    if taobao.exists():
        return f"Taobao user behaviour ({taobao})", read_taobao(taobao)[:count]
    return "a synthetic uniform stream (no shared data found)", uniform_events(count)


def demo(
    config: ConfigOption = None,
    events: Annotated[int, typer.Option(min=1, help="How many events to send.")] = 5_000,
    keep_broker: Annotated[
        bool, typer.Option(help="Leave the broker running when the demo started it.")
    ] = False,
) -> None:
    """Start a local Kafka broker, create the topics and round-trip real events through it."""
    with user_errors():
        settings = settings_from(config)
        broker = LocalBroker(settings.broker)
        local = settings.kafka.bootstrap_servers == broker.bootstrap
        started = False
        if local and broker_answers(broker.bootstrap):
            console.print(f"using the Kafka broker that already answers on {broker.bootstrap}")
        elif local:
            with console.status(f"starting Kafka {broker.version} on {broker.bootstrap} …"):
                started = broker.start()
            console.print(
                f"broker {'started' if started else 'already running'} on {broker.bootstrap}"
            )
        try:
            created, present = create_topics(settings)
            console.print(f"topics: {len(created)} created, {len(present)} already there")
            source, stream = _demo_events(events)
            console.print(f"sending {len(stream):,} events from {source}")
            with Progress(
                TextColumn("round trip"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console,
            ) as progress:  # fmt: skip
                task = progress.add_task("events", total=len(stream))
                report = round_trip(
                    settings, stream, lambda done: progress.update(task, completed=done)
                )
            table = Table("topic", "produced", "consumed back")
            for topic in settings.topics.events.values():
                table.add_row(
                    topic,
                    f"{report.produced.get(topic, 0):,}",
                    f"{report.consumed.get(topic, 0):,}",
                )
            console.print(table)
            rate = len(stream) / max(report.produce_s, 1e-9)
            console.print(
                f"lost: {report.lost}  duplicated: {report.duplicated}  "
                f"produce: {rate:,.0f} events/s  consume: {report.consume_s:.2f}s"
            )
            if report.lost or report.duplicated:
                raise typer.Exit(1)
        finally:
            if started and not keep_broker:
                broker.stop()
                console.print("broker stopped")
