"""``recstream evaluate``: offline leave-one-out evaluation of the transformer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stream.cli.common import ConfigOption, console, settings_from, user_errors
from stream.cli.replay_cmd import FileOption, FormatOption
from stream.data.event_files import read_events


def evaluate_command(
    file: FileOption,
    report: Annotated[Path, typer.Option(help="Where to write the JSON report.")],
    file_format: FormatOption = "pairs",
    config: ConfigOption = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs (best by validation).")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per training step.")] = 128,
    limit: Annotated[int | None, typer.Option(min=1, help="Read at most N lines.")] = None,
) -> None:
    """Train the transformer in batch mode and evaluate it leave-one-out (last item per user
    held out, the one before it for validation), ranked against the full catalogue and
    against 100 sampled negatives (the SASRec paper's protocol)."""
    with user_errors():
        settings = settings_from(config)
        users: dict[str, list[str]] = {}
        for event in read_events(file, file_format, limit):
            users.setdefault(event["user_id"], []).append(event["item_id"])
        users = {u: items for u, items in users.items() if len(items) >= 3}
        from model.offline_evaluation import SplitMetrics, leave_one_out
        from model.transformer_learner import TransformerLearner
        from stream.trainer.learner_factory import learner_config

        learner = TransformerLearner(learner_config(settings, rank_every_event=True))

        def show(epoch: int, valid: SplitMetrics, seconds: float) -> None:
            full, sampled = valid.full.means(), valid.sampled.means()
            console.print(
                f"epoch {epoch:3d}  valid NDCG@10 full {full['ndcg@10']:.4f}  "
                f"sampled {sampled['ndcg@10']:.4f}  ({seconds:.1f}s to evaluate)"
            )

        valid, test, train_s, best_epoch = leave_one_out(
            learner, users, epochs, batch_size, on_epoch=show
        )
        data = {
            "protocol": "leave-one-out",
            "file": str(file),
            "users": len(users),
            "items": len({i for items in users.values() for i in items}),
            "epochs": epochs,
            "best_epoch": best_epoch,
            "train_s": train_s,
            "valid": valid.as_dict(),
            "test": test.as_dict(),
            "config": settings.model.model_dump(mode="json"),
        }
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(data, indent=2))
        table = Table("test ranking", "HR@10", "NDCG@10")
        for name, metrics in (
            ("full catalogue", test.full),
            ("100 sampled negatives", test.sampled),
        ):
            means = metrics.means()
            table.add_row(name, f"{means['hr@10']:.4f}", f"{means['ndcg@10']:.4f}")
        console.print(table)
        console.print(f"best epoch {best_epoch}, training {train_s:.0f}s; report: {report}")
