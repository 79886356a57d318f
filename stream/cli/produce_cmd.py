"""``recstream produce``: replay a data set, or a synthetic stream, into the event topics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from stream.cli.common import ConfigOption, console, kafka_settings_from, user_errors
from stream.data.event_files import READERS, read_events
from stream.data.producer import produce
from stream.data.synthetic import SyntheticSpec, synthetic_events
from stream.messages.catalog import catalog_fields
from stream.messages.events import RawEvent
from stream.settings import Settings


def load_stream(
    file: Path | None, file_format: str, synthetic: bool, spec: SyntheticSpec, limit: int | None
) -> tuple[str, list[RawEvent]]:
    if synthetic == (file is not None):
        raise typer.BadParameter("give either --file or --synthetic")
    if file is not None:
        if not file.exists():
            raise typer.BadParameter(f"{file} does not exist", param_hint="--file")
        return str(file), read_events(file, file_format, limit)
    events = synthetic_events(spec)
    return f"synthetic ({spec.users} users, {spec.items} items)", events[:limit]


def produce_command(
    config: ConfigOption = None,
    file: Annotated[Path | None, typer.Option(help="Events file to replay.")] = None,
    file_format: Annotated[
        str, typer.Option("--format", help=f"File format: {', '.join(READERS)}.")
    ] = "taobao",
    synthetic: Annotated[bool, typer.Option(help="Generate a synthetic stream instead.")] = False,
    users: Annotated[int, typer.Option(min=1, help="Synthetic: users.")] = 500,
    items: Annotated[int, typer.Option(min=1, help="Synthetic: items.")] = 2_000,
    events: Annotated[int, typer.Option(min=1, help="Synthetic: events.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Synthetic: random seed.")] = 0,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="Send evenly at this many events/s.")
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(min=1e-9, help="Without --rate: keep the data's spacing divided by this."),
    ] = 1.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most this many.")] = None,
    keep_ts: Annotated[
        bool, typer.Option(help="Keep the data's own timestamps instead of the present.")
    ] = False,
    catalog: Annotated[
        Path | None,
        typer.Option(
            help="Also load an item catalogue (JSONL or CSV) into the catalogue topic "
            "first; alone, only the catalogue is loaded."
        ),
    ] = None,
    synthetic_catalog: Annotated[
        bool, typer.Option(help="Synthetic: also load the items' generated titles first.")
    ] = False,
) -> None:
    """Replay events into the event topics (key = user, one topic per action).

    Events are re-timed to the present: they keep their order and spacing (scaled by
    --time-scale), or are spaced evenly with --rate.
    """
    with user_errors():
        settings = kafka_settings_from(config)
        spec = SyntheticSpec(users=users, items=items, events=events, seed=seed)
        if catalog is not None or synthetic_catalog:
            _load_catalog(settings, catalog, spec if synthetic_catalog else None)
            if file is None and not synthetic:
                return
        try:
            source, stream = load_stream(file, file_format, synthetic, spec, limit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        pace = f"{rate:g} events/s" if rate else f"original spacing / {time_scale:g}"
        console.print(f"producing {len(stream):,} events from {source} at {pace}")
        with Progress(
            TextColumn("produce"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task("events", total=len(stream))
            try:
                report = produce(
                    settings, stream, time_scale, rate, not keep_ts,
                    progress=lambda n: progress.update(task, completed=n),
                )  # fmt: skip
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
        per_topic = ", ".join(f"{t} {n:,}" for t, n in sorted(report.by_topic.items()))
        console.print(
            f"sent {report.sent:,} events in {report.seconds:.1f}s "
            f"({report.sent / max(report.seconds, 1e-9):,.0f}/s): {per_topic}"
        )


def _load_catalog(settings: Settings, path: Path | None, spec: SyntheticSpec | None) -> None:
    from stream.content.catalog_files import produce_catalog, read_catalog
    from stream.data.synthetic_catalog import synthetic_catalogue

    records: list[dict[str, Any]] = []
    if path is not None:
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist", param_hint="--catalog")
        try:
            records += read_catalog(path)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--catalog") from None
    if spec is not None:
        records += [catalog_fields(item) for item in synthetic_catalogue(spec)]
    sent = produce_catalog(settings, records)
    console.print(f"sent {sent:,} catalogue records to {settings.topics.catalog}")
