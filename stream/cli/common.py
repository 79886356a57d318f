"""Pieces every CLI command shares: the --config option and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError
from rich.console import Console

from stream.broker import BrokerError
from stream.kafka_preflight import KafkaUnavailableError, check_kafka
from stream.local_prometheus import PrometheusError
from stream.settings import Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="RECSTREAM_CONFIG",
        help="Settings YAML file (default: configs/default.yaml when present). "
        "RECSTREAM_* environment variables override its values.",
        show_default=False,
    ),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one line on stderr and a non-zero exit."""
    try:
        yield
    except SettingsError as exc:
        err_console.print(f"[bold red]config error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except BrokerError as exc:
        err_console.print(f"[bold red]broker error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except PrometheusError as exc:
        err_console.print(f"[bold red]prometheus error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KafkaUnavailableError as exc:
        err_console.print(f"[bold red]kafka error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KafkaError as exc:
        err_console.print(f"[bold red]kafka error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def settings_from(config: Path | None) -> Settings:
    return load_settings(config)


def kafka_settings_from(config: Path | None) -> Settings:
    """Settings for a command that needs the cluster, checked by one connection first."""
    settings = load_settings(config)
    check_kafka(settings.kafka)
    return settings
