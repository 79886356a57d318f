"""One frozen, validated settings object for every recstream process.

Values come from a YAML file in ``configs/`` and are overridden by environment
variables (``RECSTREAM_`` prefix, nested with ``__``: ``RECSTREAM_KAFKA__BOOTSTRAP_SERVERS``).
Unknown keys, wrong types and out-of-range values fail at start-up with one line
naming the key and the file (see :func:`load_settings`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from stream.settings.model_sections import BaselineSettings, ModelSettings
from stream.settings.sections import (
    BrokerSettings,
    CatalogLimitsSettings,
    CheckpointSettings,
    ContentSettings,
    DistributedSettings,
    EventLimitsSettings,
    KafkaSettings,
    MetricsSettings,
    PrometheusSettings,
    SequencerSettings,
    TopicsSettings,
    TrainerSettings,
    WindowSettings,
)

ENV_PREFIX = "RECSTREAM_"
ENV_NESTED_DELIMITER = "__"
DEFAULT_CONFIG = Path("configs/default.yaml")


class SettingsError(Exception):
    """A settings problem, already phrased as the one line the user should see."""


class Settings(BaseSettings):
    """Everything a recstream process is configured with."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    topics: TopicsSettings = Field(default_factory=TopicsSettings)
    events: EventLimitsSettings = Field(default_factory=EventLimitsSettings)
    catalog: CatalogLimitsSettings = Field(default_factory=CatalogLimitsSettings)
    content: ContentSettings = Field(default_factory=ContentSettings)
    sequencer: SequencerSettings = Field(default_factory=SequencerSettings)
    window: WindowSettings = Field(default_factory=WindowSettings)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    baselines: BaselineSettings = Field(default_factory=BaselineSettings)
    checkpoints: CheckpointSettings = Field(default_factory=CheckpointSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; environment variables must win over it,
        # so env comes first (pydantic-settings deep-merges sources, first one wins).
        return env_settings, init_settings

    @model_validator(mode="after")
    def _local_sasl_broker_matches_clients(self) -> Settings:
        if self.broker.security_protocol == "SASL_PLAINTEXT" and (
            self.kafka.security_protocol != "SASL_PLAINTEXT" or self.kafka.sasl_mechanism != "PLAIN"
        ):
            raise ValueError(
                "broker.security_protocol SASL_PLAINTEXT needs kafka.security_protocol "
                "SASL_PLAINTEXT and kafka.sasl_mechanism PLAIN (the local broker speaks PLAIN)"
            )
        return self


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"{path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the top level must be a mapping of sections")
    return data


def _describe(error: Any, source: str) -> str:
    key = ".".join(str(part) for part in error["loc"])
    env_name = ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(p) for p in error["loc"]).upper()
    origin = f"environment variable {env_name}" if env_name in os.environ else source
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif "password" in key:
        pass  # never echo what was given for a secret
    elif "input" in error and not isinstance(error["input"], dict | list):
        message += f" (got {error['input']!r})"
    return f"{origin}: {key or '<top level>'}: {message}"


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (or ``configs/default.yaml`` when it exists).

    ``overrides`` are section dicts merged over the file, e.g. ``broker={"port": 19092}``;
    environment variables still take precedence over both.
    Raises :class:`SettingsError` with a one-line message on any problem.
    """
    if path is None:
        path = DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None
    source = str(path) if path is not None else "built-in defaults"
    data = _read_yaml(Path(path)) if path is not None else {}
    for section, values in overrides.items():
        merged = dict(data.get(section) or {})
        merged.update(values)
        data[section] = merged
    try:
        return Settings(**data)
    except ValidationError as exc:
        lines = [_describe(err, source) for err in exc.errors()]
        raise SettingsError("; ".join(lines)) from None
