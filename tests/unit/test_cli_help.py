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
    ["replay"],
    ["compare"],
    ["evaluate"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "recstream")
def test_help_describes_command_and_options(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    leaf = command and command[-1] not in {"broker", "topics", "worker"}
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
    assert "--events" in demo and "--keep-broker" in demo
    sequencer = runner.invoke(app, ["worker", "sequencer", "--help"], env={"COLUMNS": "200"}).output
    assert "--worker-id" in sequencer and "--loglevel" in sequencer
