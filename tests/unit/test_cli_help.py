"""Every command describes itself and each of its options in --help."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stream.cli.main import app

COMMANDS = [
    [],
    ["broker"],
    ["broker", "start"],
    ["broker", "stop"],
    ["broker", "status"],
    ["topics"],
    ["topics", "create"],
    ["topics", "describe"],
    ["demo"],
    ["worker"],
    ["worker", "sequencer"],
    ["worker", "trainer"],
    ["model"],
    ["model", "list"],
    ["model", "show"],
    ["model", "rollback"],
    ["produce"],
    ["consume"],
    ["replay"],
    ["compare"],
    ["evaluate"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "recstream")
def test_help_describes_command_and_options(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    leaf = command and command[-1] not in {"broker", "topics", "worker", "model"}
    if leaf and command[-1] != "compare":
        assert "--config" in result.output
        assert "Settings YAML file" in result.output


def test_groups_list_their_subcommands() -> None:
    runner = CliRunner()
    broker = runner.invoke(app, ["broker", "--help"], env={"COLUMNS": "200"}).output
    assert all(name in broker for name in ("start", "stop", "status"))
    topics = runner.invoke(app, ["topics", "--help"], env={"COLUMNS": "200"}).output
    assert all(name in topics for name in ("create", "describe"))
    demo = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"}).output
    assert all(
        option in demo for option in ("--rate", "--duration", "--synthetic", "--keep-broker")
    )
    trainer = runner.invoke(app, ["worker", "trainer", "--help"], env={"COLUMNS": "200"}).output
    assert all(option in trainer for option in ("--model", "--worker-id", "--init-from"))
    produce = runner.invoke(app, ["produce", "--help"], env={"COLUMNS": "200"}).output
    assert all(
        option in produce
        for option in (
            "--file",
            "--format",
            "--rate",
            "--time-scale",
            "--limit",
            "--synthetic",
            "--users",
            "--seed",
        )
    )
    consume = runner.invoke(app, ["consume", "--help"], env={"COLUMNS": "200"}).output
    assert all(option in consume for option in ("--user", "--max", "--timeout", "--json"))
    sequencer = runner.invoke(app, ["worker", "sequencer", "--help"], env={"COLUMNS": "200"}).output
    assert "--worker-id" in sequencer and "--loglevel" in sequencer
