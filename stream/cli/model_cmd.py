"""``recstream model list|show|rollback``: the trainer's checkpoints, for operators.

Rollback works on the next start: it sets aside (moves, never deletes) every
checkpoint newer than the chosen version, so the trainer restores that version and
re-reads ``recstream.sequences`` from its offsets. Stop the trainer first: a running
one would keep writing newer checkpoints (the command refuses while the trainer's
consumer group has members, unless --force).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from model.checkpoints.store import CheckpointError, CheckpointInfo, CheckpointStore
from stream.cli.common import ConfigOption, console, err_console, settings_from, user_errors
from stream.kafka.client_options import security_options
from stream.kafka.topics import admin_client
from stream.local.broker import broker_answers
from stream.settings import Settings

app = typer.Typer(help="Inspect and roll back the trainer's checkpoints.", no_args_is_help=True)


def _store(settings: Settings) -> CheckpointStore:
    return CheckpointStore(settings.checkpoints.dir, settings.checkpoints.keep_chains)


def _metric(info: CheckpointInfo, name: str) -> str:
    value = (info.extra.get("metrics") or {}).get(name)
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


@app.command("list")
def list_checkpoints(config: ConfigOption = None) -> None:
    """Every checkpoint, oldest first, with the online quality when it was taken."""
    with user_errors():
        settings = settings_from(config)
        infos = _store(settings).checkpoints()
        if not infos:
            console.print(f"no checkpoints in {settings.checkpoints.dir}")
            return
        table = Table("checkpoint", "kind", "version", "taken", "MB", "NDCG@10", "HR@10", "good",
                      title=str(settings.checkpoints.dir))  # fmt: skip
        for info in infos:
            taken = datetime.fromtimestamp(info.created_ts).strftime("%Y-%m-%d %H:%M:%S")
            good = info.extra.get("good")
            table.add_row(
                info.name, info.kind, str(info.model_version), taken, f"{info.bytes / 1e6:.2f}",
                _metric(info, "ndcg@10"), _metric(info, "hr@10"),
                "-" if good is None else ("yes" if good else "[red]no[/]"),
            )  # fmt: skip
        console.print(table)


@app.command()
def show(
    version: Annotated[int, typer.Argument(help="Model version of the checkpoint.")],
    config: ConfigOption = None,
) -> None:
    """One checkpoint's manifest, and whether its whole chain verifies."""
    with user_errors():
        store = _store(settings_from(config))
        info = store.find(version)
        if info is None:
            raise typer.BadParameter(f"no checkpoint of version {version}")
        plan = store.newest_chain(at_most_version=version)
        usable = plan.newest is not None and plan.newest.name == info.name
        console.print_json(json.dumps({
            "name": info.name, "kind": info.kind, "model_version": info.model_version,
            "parent": info.parent, "chain": info.chain, "files": info.files, **info.extra,
            "restorable": usable, "problems": plan.problems,
        }))  # fmt: skip


def _trainer_running(settings: Settings) -> int:
    """Members of the trainer's consumer group (0 when the broker is not reachable)."""
    if not broker_answers(
        settings.kafka.bootstrap_servers.split(",")[0], options=security_options(settings.kafka)
    ):
        err_console.print("broker not reachable: cannot check for a running trainer")
        return 0
    with admin_client(settings) as admin:
        group = admin.describe_groups([settings.trainer.app_id]).get(settings.trainer.app_id) or {}
    return len(group.get("members") or [])


@app.command()
def rollback(
    to: Annotated[int, typer.Option("--to", help="Model version to return to.")],
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option(help="Even if a trainer seems to be running.")] = False,
) -> None:
    """Make the next trainer start serve version --to (or the newest usable one before it)."""
    with user_errors():
        settings = settings_from(config)
        store = _store(settings)
        plan = store.newest_chain(at_most_version=to)
        if plan.newest is None:
            raise typer.BadParameter(f"no restorable checkpoint at or before version {to}",
                                     param_hint="--to")  # fmt: skip
        for problem in plan.problems:
            err_console.print(f"[yellow]skipped:[/] {problem}", highlight=False)
        members = 0 if force else _trainer_running(settings)
        if members:
            raise typer.BadParameter(
                f"a trainer is running ({members} member(s) in group {settings.trainer.app_id}); "
                "stop it first, or pass --force"
            )
        target = plan.newest
        try:
            moved = store.set_aside_newer_than(target.model_version)
        except (OSError, CheckpointError) as exc:
            raise typer.BadParameter(f"could not set checkpoints aside: {exc}") from None
        console.print(
            f"rolled back to {target.name} (version {target.model_version}); set aside "
            f"{len(moved)} newer checkpoint(s) under {store.root / 'rolled-back'}. The next "
            "trainer start restores it and re-reads the sequences topic from its offsets."
        )
