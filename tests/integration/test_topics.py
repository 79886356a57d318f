"""`recstream topics create` makes the configured layout and is idempotent."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stream.cli.main import app
from stream.settings import Settings
from stream.topics import create_topics, describe_topics, topic_specs

pytestmark = pytest.mark.integration


def test_topics_are_created_with_configured_layout(kafka_settings: Settings) -> None:
    specs = topic_specs(kafka_settings)
    create_topics(kafka_settings)
    created_again, present = create_topics(kafka_settings)
    assert created_again == []
    assert sorted(present) == sorted(spec.name for spec in specs)

    states = {s.name: s for s in describe_topics(kafka_settings, [s.name for s in specs])}
    assert set(states) == {spec.name for spec in specs}
    for spec in specs:
        assert states[spec.name].partitions == kafka_settings.topics.partitions
    topics = kafka_settings.topics
    assert states[topics.recommendations].configs.get("cleanup.policy") == "compact"
    assert states[topics.deadletter].configs.get("retention.ms") == str(
        topics.deadletter_retention_ms
    )
    assert "cleanup.policy" not in states[topics.sequences].configs
    changelog = f"{kafka_settings.sequencer.app_id}-windows-changelog"
    assert states[changelog].configs.get("cleanup.policy") == "compact"


def test_cli_topics_create_and_describe(
    kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSTREAM_KAFKA__BOOTSTRAP_SERVERS", kafka_settings.kafka.bootstrap_servers)
    runner = CliRunner()
    created = runner.invoke(app, ["topics", "create", "--config", "configs/test.yaml"])
    assert created.exit_code == 0, created.output
    assert kafka_settings.topics.recommendations in created.output
    described = runner.invoke(app, ["topics", "describe", "--config", "configs/test.yaml"])
    assert described.exit_code == 0, described.output
    assert "cleanup.policy=compact" in described.output
    assert "missing" not in described.output
