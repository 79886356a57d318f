"""``recstream topics create|describe``."""

from __future__ import annotations

import typer
from rich.table import Table

from stream.cli.common import ConfigOption, console, kafka_settings_from, user_errors
from stream.kafka.topics import create_topics, describe_topics, topic_specs

app = typer.Typer(help="Create and inspect recstream's Kafka topics.", no_args_is_help=True)


@app.command()
def create(config: ConfigOption = None) -> None:
    """Create the configured topics that are missing (idempotent).

    Partitions come from topics.partitions; the recommendations topic is log-compacted
    and the dead-letter topic keeps messages for topics.deadletter_retention_ms.
    """
    with user_errors():
        created, present = create_topics(kafka_settings_from(config))
        for name in created:
            console.print(f"[green]created[/] {name}")
        for name in present:
            console.print(f"exists  {name}")


@app.command()
def describe(config: ConfigOption = None) -> None:
    """Show partitions and non-default settings of the configured topics, as the broker has them."""
    with user_errors():
        settings = kafka_settings_from(config)
        names = [spec.name for spec in topic_specs(settings)]
        states = {state.name: state for state in describe_topics(settings, names)}
        table = Table("topic", "partitions", "configs")
        for name in names:
            state = states.get(name)
            if state is None:
                table.add_row(name, "[red]missing[/]", "")
            else:
                configs = ", ".join(f"{k}={v}" for k, v in sorted(state.configs.items()))
                table.add_row(name, str(state.partitions), configs)
        console.print(table)
