"""``recstream replay`` and ``recstream compare``: prequential evaluation on a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from model.contract import Learner
from model.names import MODEL_NAMES
from stream.cli.common import ConfigOption, console, settings_from, user_errors
from stream.data.event_files import READERS, read_events
from stream.replay.prequential import ReplayResult, replay
from stream.settings import Settings

# torch, transformers and matplotlib are imported by the commands that use them: every
# `recstream` process imports this module, and a sequencer worker needs none of them.

FileOption = Annotated[
    Path, typer.Option("--file", exists=True, dir_okay=False, help="Events file.")
]
FormatOption = Annotated[str, typer.Option("--format", help=f"File format: {', '.join(READERS)}.")]


def replay_command(
    file: FileOption,
    model: Annotated[str, typer.Option(help=f"One of: {', '.join(MODEL_NAMES)}.")],
    report: Annotated[Path, typer.Option(help="Where to write the JSON report.")],
    file_format: FormatOption = "taobao",
    config: ConfigOption = None,
    batch_events: Annotated[int, typer.Option(min=1, help="Events per micro-batch.")] = 64,
    limit: Annotated[int | None, typer.Option(min=1, help="Read at most N lines.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Also write NDCG@10 over the stream (PNG).")
    ] = None,
    save_checkpoint: Annotated[
        Path | None, typer.Option(help="Save the learner here at the end.")
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Item catalogue (JSONL or CSV) given to the transformer before the "
            "stream; needs content.enabled.",
        ),
    ] = None,
) -> None:
    """Stream a file through a learner in time order and report prequential quality.

    Every event is ranked by the model before the model learns it (test-then-train);
    an event whose item never appeared before counts as evaluated and missed.
    """
    with user_errors():
        settings = settings_from(config)
        if model not in MODEL_NAMES:
            raise typer.BadParameter(f"choose from {', '.join(MODEL_NAMES)}", param_hint="--model")
        from stream.trainer.learner_factory import learner_from_settings

        events = read_events(file, file_format, limit)
        learner = learner_from_settings(model, settings, rank_every_event=True)
        if catalog is not None:
            _give_catalog(learner, catalog, settings)
        with Progress(
            TextColumn(f"[bold]{model}[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8.0f} ev/s  NDCG@10 {task.fields[ndcg]:.4f}"),
            TimeElapsedColumn(), console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task("replay", total=len(events), rate=0.0, ndcg=0.0)

            def show(done: int, partial: ReplayResult) -> None:
                elapsed = progress.tasks[0].elapsed or 1e-9
                progress.update(task, completed=done, rate=done / elapsed,
                                ndcg=partial.overall.means()["ndcg@10"])  # fmt: skip

            result = replay(
                learner, events, batch_events, settings.window.max_events,
                settings.window.max_age_s, show,
            )  # fmt: skip
        data = result.as_report(model, {
            "file": str(file), "format": file_format, "batch_events": batch_events,
            "limit": limit, "config": settings.model_dump(mode="json", exclude={"kafka"}),
        })  # fmt: skip
        data["dataset"] = file.parent.name
        if model == "retrain":
            data["retrain_train_s"] = getattr(learner, "train_seconds", 0.0)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(data, indent=2))
        _print_summary([data])
        if plot is not None:
            from stream.replay.plot import plot_reports

            plot_reports([data], plot)
            console.print(f"plot: {plot}")
        if save_checkpoint is not None:
            _save(learner, save_checkpoint, settings, data)


def _give_catalog(learner: Learner, path: Path, settings: Settings) -> None:
    """Encode a catalogue file and queue it on the learner (applied by its first step);
    records that do not validate are skipped and counted, as the trainer dead-letters them."""
    if not settings.content.enabled or not hasattr(learner, "queue_content"):
        raise typer.BadParameter(
            "needs content.enabled and the transformer", param_hint="--catalog"
        )
    from stream.content.catalog_files import read_catalog
    from stream.content.encoding import ContentEncoder
    from stream.messages.catalog import CatalogItem, parse_catalog_object

    try:
        records = read_catalog(path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--catalog") from None
    parsed = [parse_catalog_object(r, settings.catalog, settings.events.max_id_length)
              for r in records]  # fmt: skip
    items = [item for item in parsed if isinstance(item, CatalogItem)]
    with console.status(f"encoding {len(items):,} catalogue items …"):
        updates = ContentEncoder(settings.content).updates(items)
    learner.queue_content(updates)
    console.print(f"catalogue: {len(items):,} items ({len(parsed) - len(items):,} refused)")


def _save(learner: Learner, directory: Path, settings: Settings, report: dict[str, Any]) -> None:
    """The transformer goes into a checkpoint store (what `worker trainer --init-from`
    reads); baselines save their own state."""
    from model.transformer_learner import TransformerLearner

    if not isinstance(learner, TransformerLearner):
        learner.save(directory)
        console.print(f"saved {learner.name} to {directory}")
        return
    save_transformer(learner, directory, settings, {
        "origin": "replay", "file": report["settings"]["file"],
        "metrics": report["metrics"]["overall"],
    })  # fmt: skip


def save_transformer(
    learner: Learner, directory: Path, settings: Settings, extra: dict[str, Any]
) -> None:
    """A full checkpoint of the transformer in the store at ``directory``."""
    from model.checkpoints.checkpointer import open_checkpointer
    from model.transformer_learner import TransformerLearner
    from stream.trainer.lifecycle import settings_hash

    assert isinstance(learner, TransformerLearner)
    checkpointer = open_checkpointer(directory, settings.checkpoints.keep_chains, full_every=1)
    info = checkpointer.save(learner, extra | {"settings_hash": settings_hash(settings)})
    console.print(
        f"checkpoint: {info.path} (model version {info.model_version}); start a trainer "
        f"from it with `recstream worker trainer --init-from {directory}`"
    )


def compare_command(
    reports: Annotated[list[Path], typer.Argument(exists=True, help="Replay reports (JSON).")],
    plot: Annotated[Path | None, typer.Option(help="Write NDCG@10 of all reports (PNG).")] = None,
) -> None:
    """Print replay reports side by side, and plot them together."""
    data = [json.loads(path.read_text()) for path in reports]
    _print_summary(data)
    if plot is not None:
        from stream.replay.plot import plot_reports

        plot_reports(data, plot)
        console.print(f"plot: {plot}")


def _print_summary(reports: list[dict[str, Any]]) -> None:
    table = Table(
        "model", "events", "cold", "NDCG@10", "HR@10", "MRR@10", "HR@20", "events/s", "train s"
    )
    for r in reports:
        m = r["metrics"]["overall"]
        t = r["throughput"]
        table.add_row(
            str(r["model"]), f"{r['events']:,}", f"{r['cold']:,}", f"{m['ndcg@10']:.4f}",
            f"{m['hr@10']:.4f}", f"{m['mrr@10']:.4f}", f"{m['hr@20']:.4f}",
            f"{t['events_per_s']:,.0f}", f"{t['train_s']:.1f}",
        )  # fmt: skip
    console.print(table)
    aged = [r for r in reports if r["metrics"].get("per_age")]
    if aged:
        by_age = Table("model", "target item's age (events)", "ranked", "NDCG@10", "HR@20")
        for r in aged:
            for age, m in r["metrics"]["per_age"].items():
                by_age.add_row(str(r["model"]), age, f"{m['count']:,}", f"{m['ndcg@10']:.4f}",
                               f"{m['hr@20']:.4f}")  # fmt: skip
        console.print(by_age)
