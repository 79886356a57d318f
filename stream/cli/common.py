"""Pieces every CLI command shares: the --config option and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError
from rich.console import Console

from stream.data.producer import UndeliveredEventsError
from stream.kafka.preflight import KafkaUnavailableError, check_kafka
from stream.local.broker import BrokerError
from stream.local.prometheus import PrometheusError
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


# What a user can fix: the label of its one line on stderr, and the exit code.
_USER_ERRORS: tuple[tuple[type[Exception], str, int], ...] = (
    (SettingsError, "config error", 2),
    (BrokerError, "broker error", 1),
    (PrometheusError, "prometheus error", 1),
    (KafkaUnavailableError, "kafka error", 1),
    (KafkaError, "kafka error", 1),
    (UndeliveredEventsError, "delivery error", 1),
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one line on stderr and a non-zero exit."""
    try:
        yield
    except tuple(kind for kind, _label, _code in _USER_ERRORS) as exc:
        label, code = next((lb, c) for kind, lb, c in _USER_ERRORS if isinstance(exc, kind))
        err_console.print(f"[bold red]{label}:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code) from None


def settings_from(config: Path | None) -> Settings:
    return load_settings(config)


def kafka_settings_from(config: Path | None) -> Settings:
    """Settings for a command that needs the cluster, checked by one connection first."""
    settings = load_settings(config)
    check_kafka(settings.kafka)
    return settings
