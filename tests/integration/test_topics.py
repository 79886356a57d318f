"""`recstream topics create` makes the configured layout and is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stream.cli.main import app
from stream.kafka.topics import (
    check_sequences_partitions,
    create_topics,
    describe_topics,
    topic_specs,
)
from stream.local.sandbox import isolated_settings
from stream.settings import Settings, SettingsError

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


def test_a_sequencer_refuses_a_sequences_topic_narrower_than_the_events(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """Batches go to their events' partition number, so the sequences topic needs at
    least as many partitions: a narrower one fails at start-up naming the key."""
    config, settings = isolated_settings(kafka_settings, tmp_path, "narrow")
    wide = settings.topics.model_copy(update={"partitions": 2})
    narrow = settings.topics.model_copy(update={"partitions": 1})
    create_topics(settings.model_copy(update={"topics": narrow}))  # every topic: 1 partition
    # Event topics of 2 partitions under new names, next to the 1-partition sequences topic.
    events = {action: f"{name}-wide" for action, name in settings.topics.events.items()}
    widened = settings.model_copy(update={"topics": wide.model_copy(update={"events": events})})
    create_topics(widened)
    with pytest.raises(SettingsError, match=r"^topics\.sequences: narrow\.sequences has 1 "):
        check_sequences_partitions(widened)
    check_sequences_partitions(settings)  # 1 and 1: fine

    config.write_text(config.read_text().replace("narrow.view", "narrow.view-wide")
                      .replace("narrow.click", "narrow.click-wide")
                      .replace("narrow.purchase", "narrow.purchase-wide"))  # fmt: skip
    result = CliRunner().invoke(app, ["worker", "sequencer", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "topics.sequences" in result.output
