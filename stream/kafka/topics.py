"""Create and inspect recstream's topics with kafka-python's admin client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError

from stream.kafka.client_options import kafka_python_options
from stream.settings import Settings, SettingsError

SEQUENCER_WINDOWS_TABLE = "windows"


def windows_changelog(settings: Settings) -> str:
    """Faust's name for the changelog of the sequencer's window table."""
    return f"{settings.sequencer.app_id}-{SEQUENCER_WINDOWS_TABLE}-changelog"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics recstream needs, with the layout each one must have."""
    t = settings.topics
    specs = [TopicSpec(name, t.partitions, t.replication_factor) for name in t.events.values()]
    specs.append(
        TopicSpec(
            t.deadletter,
            t.partitions,
            t.replication_factor,
            # Dead letters are evidence for an operator: keep them long after events expire.
            {"retention.ms": str(t.deadletter_retention_ms)},
        )
    )
    specs.append(TopicSpec(t.sequences, t.partitions, t.replication_factor))
    specs.append(
        TopicSpec(
            t.recommendations,
            t.partitions,
            t.replication_factor,
            # Consumers want each user's latest recommendation, not its history.
            {"cleanup.policy": "compact"},
        )
    )
    # The catalogue: each item's latest record (a reader starting from the beginning
    # sees every live item once, not its history).
    specs.append(TopicSpec(t.catalog, t.partitions, t.replication_factor,
                           {"cleanup.policy": "compact"}))  # fmt: skip
    # Faust would create the windows changelog itself at start-up, but a worker on a
    # young broker can then write before its metadata lists the new topic, and the
    # agent crashes with PartitionsMismatch ("changelog has 0 partitions"). Made here,
    # it exists with the event topics' partition count before any worker starts.
    specs.append(
        TopicSpec(
            windows_changelog(settings),
            t.partitions,
            t.replication_factor,
            {"cleanup.policy": "compact"},
        )
    )
    return specs


@contextmanager
def admin_client(settings: Settings) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(**kafka_python_options(settings.kafka))
    try:
        yield admin
    finally:
        admin.close()


@dataclass(frozen=True)
class TopicState:
    name: str
    partitions: int
    configs: dict[str, str]


def create_topics(settings: Settings) -> tuple[list[str], list[str]]:
    """Create the missing topics; returns (created, already present). Idempotent."""
    specs = topic_specs(settings)
    with admin_client(settings) as admin:
        existing = set(admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        for spec in missing:
            options = {
                "num_partitions": spec.partitions,
                "replication_factor": spec.replication_factor,
                "configs": spec.configs,
            }
            try:
                admin.create_topics({spec.name: options}, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                existing.add(spec.name)  # created concurrently by another process
    created = [spec.name for spec in missing if spec.name not in existing]
    present = [spec.name for spec in specs if spec.name in existing]
    return created, present


def describe_topics(settings: Settings, names: list[str]) -> list[TopicState]:
    """Partition counts and non-default configs of ``names``, as the broker reports them."""
    with admin_client(settings) as admin:
        metadata = {entry["name"]: entry for entry in admin.describe_topics(names)}
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        configs: dict[str, Any] = admin.describe_configs(resources).get("topic", {})
    states = []
    for name in names:
        entry = metadata.get(name)
        if entry is None or entry.get("error_code", 0) != 0:
            continue
        values = {key: str(data["value"]) for key, data in configs.get(name, {}).items()}
        states.append(TopicState(name, len(entry["partitions"]), values))
    return states


def check_sequences_partitions(settings: Settings) -> None:
    """Fail when ``topics.sequences`` has fewer partitions than an event topic: the
    sequencer sends each batch to the partition number its events came from
    (:mod:`stream.messages.sequence_batch`). Topics not created yet are left to the workers."""
    t = settings.topics
    states = {
        s.name: s.partitions for s in describe_topics(settings, [*t.events.values(), t.sequences])
    }
    have = states.pop(t.sequences, None)
    if have is None or not states:
        return
    name, count = max(states.items(), key=lambda item: item[1])  # the widest event topic
    if count > have:
        raise SettingsError(
            f"topics.sequences: {t.sequences} has {have} partitions, fewer than {name}'s {count}; "
            "it needs at least as many as the event topics (a batch goes to its events' "
            "partition number). Add partitions with your Kafka tools, or use a new topic name."
        )


def delete_topics_with_prefix(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (a demo's or a benchmark's)."""
    with admin_client(settings) as admin:
        doomed = sorted(name for name in admin.list_topics() if name.startswith(prefix))
        if doomed:
            admin.delete_topics(doomed)
    return doomed
