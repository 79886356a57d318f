"""``recstream pretrain``: build a backbone offline from a history file, for a trainer
that then adapts it online (``model.online: adapters``, ``worker trainer --init-from``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stream.cli.common import ConfigOption, console, settings_from, user_errors
from stream.cli.replay_cmd import FileOption, FormatOption, save_transformer
from stream.data.event_files import read_events
from stream.replay.prequential import ReplayResult, replay


def pretrain_command(
    file: FileOption,
    out: Annotated[Path, typer.Option(help="Checkpoint store to write the backbone into.")],
    file_format: FormatOption = "taobao",
    config: ConfigOption = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the file, in time order.")] = 1,
    batch_events: Annotated[int, typer.Option(min=1, help="Events per micro-batch.")] = 64,
    limit: Annotated[int | None, typer.Option(min=1, help="Read at most N lines.")] = None,
) -> None:
    """Train every weight of the transformer on a history file (``model.online`` is
    ignored: pretraining is always full), then save it as a full checkpoint. Each pass
    is test-then-train; the first pass's NDCG@10 is the model's quality on unseen events,
    later passes' are on events it has learned."""
    with user_errors():
        settings = settings_from(config)
        settings = settings.model_copy(
            update={"model": settings.model.model_copy(update={"online": "full"})}
        )
        from stream.trainer.learner_factory import learner_from_settings

        events = read_events(file, file_format, limit)
        learner = learner_from_settings("transformer", settings, rank_every_event=True)
        first: ReplayResult | None = None
        with Progress(
            TextColumn("[bold]pass {task.fields[epoch]}[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("NDCG@10 {task.fields[ndcg]:.4f}"), TimeElapsedColumn(), console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task("pretrain", total=len(events) * epochs, epoch=1, ndcg=0.0)
            for epoch in range(epochs):

                def show(done: int, partial: ReplayResult, epoch: int = epoch) -> None:
                    progress.update(task, completed=epoch * len(events) + done, epoch=epoch + 1,
                                    ndcg=partial.overall.means()["ndcg@10"])  # fmt: skip

                result = replay(learner, events, batch_events, settings.window.max_events,
                                settings.window.max_age_s, show)  # fmt: skip
                first = first or result
                console.print(f"pass {epoch + 1}: NDCG@10 {result.overall.means()['ndcg@10']:.4f}")
        assert first is not None
        save_transformer(learner, out, settings, {
            "origin": "pretrain", "file": str(file), "epochs": epochs,
            "metrics": first.overall.means(),
        })  # fmt: skip
