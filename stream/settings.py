"""One frozen, validated settings object for every recstream process.

Values come from a YAML file in ``configs/`` and are overridden by environment
variables (``RECSTREAM_`` prefix, nested with ``__``: ``RECSTREAM_KAFKA__BOOTSTRAP_SERVERS``).
Unknown keys, wrong types and out-of-range values fail at start-up with one line
naming the key and the file (see :func:`load_settings`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "RECSTREAM_"
ENV_NESTED_DELIMITER = "__"
DEFAULT_CONFIG = Path("configs/default.yaml")


class SettingsError(Exception):
    """A settings problem, already phrased as the one line the user should see."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Section):
    """How every client (Faust, kafka-python, aiokafka) reaches the cluster."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = Field("recstream", min_length=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = Field(None, min_length=1, max_length=256)
    # The password comes from here (or RECSTREAM_KAFKA__SASL_PASSWORD), or from a file
    # (a mounted secret); it is a SecretStr so no repr, log or error message shows it.
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    request_timeout_ms: int = Field(30_000, ge=1_000, le=600_000)
    # How soon a crashed group member's partitions move to the others (Kafka allows 6-300 s).
    session_timeout_s: float = Field(30.0, ge=6.0, le=300.0)

    @model_validator(mode="before")
    @classmethod
    def _password_from_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("sasl_password_file") in (None, ""):
            return data
        if data.get("sasl_password") not in (None, ""):
            raise ValueError("give sasl_password or sasl_password_file, not both")
        path = Path(str(data["sasl_password_file"])).expanduser()
        try:
            secret = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"sasl_password_file {path}: cannot read ({exc.strerror})") from None
        if not secret:
            raise ValueError(f"sasl_password_file {path} is empty")
        return {**data, "sasl_password": secret}

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                "security_protocol SASL_* needs sasl_mechanism, sasl_username and sasl_password"
            )
        return self


class BrokerSettings(_Section):
    """The local single-node KRaft broker that ``recstream broker`` manages."""

    host: Literal["127.0.0.1", "localhost"] = "127.0.0.1"
    port: int = Field(9092, ge=1024, le=65535)
    # SASL_PLAINTEXT: the client listener requires SASL/PLAIN and accepts exactly the
    # clients' kafka.sasl_username / sasl_password (for trying authentication locally).
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = "PLAINTEXT"
    controller_port: int | None = Field(None, ge=1024, le=65535)
    data_dir: Path = Path(".recstream/broker")
    cache_dir: Path = Path("~/.cache/recstream")
    heap_mb: int = Field(512, ge=128, le=16_384)
    start_timeout_s: float = Field(90.0, gt=0, le=600)
    stop_timeout_s: float = Field(30.0, gt=0, le=600)

    @property
    def resolved_controller_port(self) -> int:
        return self.controller_port if self.controller_port is not None else self.port + 1

    @model_validator(mode="after")
    def _ports_differ(self) -> BrokerSettings:
        if self.resolved_controller_port == self.port:
            raise ValueError("controller_port must differ from port")
        return self


class TopicsSettings(_Section):
    """Topic names and layout; one event topic per action."""

    events: dict[str, str] = Field(
        default_factory=lambda: {
            "view": "events.view",
            "click": "events.click",
            "purchase": "events.purchase",
        },
        min_length=1,
    )
    deadletter: str = Field("events.deadletter", min_length=1, max_length=249)
    sequences: str = Field("recstream.sequences", min_length=1, max_length=249)
    recommendations: str = Field("recstream.recommendations", min_length=1, max_length=249)
    partitions: int = Field(4, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=16)
    deadletter_retention_ms: int = Field(30 * 24 * 3600 * 1000, ge=3_600_000)

    @property
    def all_names(self) -> list[str]:
        return [*self.events.values(), self.deadletter, self.sequences, self.recommendations]

    @model_validator(mode="after")
    def _names_unique(self) -> TopicsSettings:
        if len(set(self.all_names)) != len(self.all_names):
            raise ValueError("topic names must be distinct")
        return self


class EventLimitsSettings(_Section):
    """What the sequencer accepts; everything outside goes to the dead-letter topic."""

    max_payload_bytes: int = Field(16_384, ge=64, le=1_048_576)
    max_id_length: int = Field(256, ge=1, le=4_096)
    ts_floor: float = Field(946_684_800.0, ge=0)  # 2000-01-01T00:00:00Z
    max_future_s: float = Field(3_600.0, ge=0)
    max_past_s: float | None = Field(None, gt=0)  # None: only the floor bounds the past
    deadletter_raw_max_bytes: int = Field(262_144, ge=256, le=1_048_576)


class SequencerSettings(_Section):
    """The Faust app that turns events into per-user windows."""

    app_id: str = Field("recstream-sequencer", min_length=1)
    store: Literal["rocksdb", "memory"] = "rocksdb"
    data_dir: Path = Path(".recstream/sequencer")
    batch_max_events: int = Field(2_000, ge=1, le=100_000)


class WindowSettings(_Section):
    """The per-user behaviour window kept by the sequencer."""

    max_events: int = Field(50, ge=1, le=10_000)
    max_age_s: float = Field(30 * 24 * 3600.0, gt=0)
    coalesce_ms: int = Field(20, ge=0, le=5_000)


class TrainerSettings(_Section):
    """Micro-batching, placement and time budget of the incremental trainer."""

    app_id: str = Field("recstream-trainer", min_length=1)
    data_dir: Path = Path(".recstream/trainer")
    # A micro-batch closes at batch_size sequence updates or batch_timeout_ms.
    batch_size: int = Field(256, ge=1, le=65_536)
    batch_timeout_ms: int = Field(200, ge=1, le=60_000)
    # While a step runs, the next micro-batches wait and merge (newest window per
    # user) into one larger step of at most this many users: bursts make batches
    # grow instead of queues. Beyond it the agent stops reading (consumer lag).
    max_batch_size: int = Field(2_048, ge=1, le=262_144)
    # Learn from at most as many sequences as fit this budget (measured cost per
    # sequence); the rest of a step is recommended for but only offered to replay.
    # null: learn everything, however long it takes.
    train_budget_ms: int | None = Field(250, ge=1, le=600_000)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # CPU threads for the model's kernels; 0: PyTorch's default (all cores). One by
    # default: on a small machine the sequencer and the broker need the other cores.
    torch_threads: int = Field(1, ge=0, le=1_024)
    top_k: int = Field(20, ge=1, le=1_000)
    # Online HR/NDCG gauges cover the most recent this-many ranked events.
    quality_window_events: int = Field(2_000, ge=1, le=10_000_000)
    seed: int = 0

    @model_validator(mode="after")
    def _max_batch_covers_batch(self) -> TrainerSettings:
        if self.max_batch_size < self.batch_size:
            raise ValueError("max_batch_size must be at least batch_size")
        return self


class ModelSettings(_Section):
    """Size of the transformer sequential recommender."""

    hidden_size: int = Field(64, ge=8, le=16_384)
    num_layers: int = Field(2, ge=1, le=128)
    num_heads: int = Field(2, ge=1, le=256)
    max_len: int = Field(50, ge=2, le=8_192)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(0.01, ge=0.0, le=1.0)
    grad_clip: float = Field(1.0, gt=0.0)
    time_gaps: bool = True
    full_softmax_max_items: int = Field(50_000, ge=1)
    num_negatives: int = Field(1_024, ge=1)
    replay_capacity: int = Field(10_000, ge=0)
    replay_ratio: float = Field(0.25, ge=0.0, le=10.0)
    replay_positions: int = Field(5, ge=1)
    task_weights: tuple[float, float, float] = (1.0, 0.5, 0.2)  # next item, purchase, action
    rank_weights: tuple[float, float] = (1.0, 0.2)  # next item, next purchased item
    vocab_min_count: int = Field(1, ge=1)
    # Items with an embedding row at most; new ids beyond it share the unknown row.
    vocab_max_items: int | None = Field(2_000_000, ge=1)
    vocab_evict_after_s: float | None = Field(None, gt=0)
    seed: int = 0
    pretrained_path: Path | None = None

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelSettings:
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")
        return self


class BaselineSettings(_Section):
    """The reference models ``recstream replay`` compares the transformer with."""

    popularity_half_life_s: float = Field(86_400.0, gt=0)
    frozen_warmup_events: int = Field(10_000, ge=0)
    retrain_every_events: int = Field(50_000, ge=1)
    retrain_epochs: int = Field(2, ge=1, le=100)
    retrain_batch_size: int = Field(128, ge=1)
    retrain_positions: int | None = Field(5, ge=1)  # per window and epoch; null: all


class CheckpointSettings(_Section):
    """Where and how often the trainer stores its model, and when it rolls back."""

    enabled: bool = True
    dir: Path = Path(".recstream/checkpoints")
    every_steps: int = Field(200, ge=1)  # a checkpoint after this many steps ...
    every_s: float = Field(60.0, gt=0)  # ... or this long, whichever comes first
    full_every: int = Field(10, ge=1)  # every N-th checkpoint is a full snapshot
    keep_chains: int = Field(3, ge=1)  # full snapshots (with their deltas) kept
    # Roll back to the last good checkpoint when the recent online NDCG@10 falls
    # below this fraction of its trailing average (null: never for quality).
    rollback_ndcg_fraction: float | None = Field(0.5, gt=0.0, lt=1.0)
    rollback_trailing_events: int = Field(20_000, ge=1)  # the trailing average's span
    rollback_on_guard: bool = True  # also when a guard skips a step (non-finite values)


class MetricsSettings(_Section):
    """Prometheus endpoints; loopback unless an operator opens them up."""

    host: str = "127.0.0.1"
    sequencer_port: int = Field(9464, ge=0, le=65535)
    trainer_port: int = Field(9465, ge=0, le=65535)
    # How often each worker asks the broker for its group's lag (committed vs end offsets).
    lag_interval_s: float = Field(10.0, ge=0.5, le=3_600)


class PrometheusSettings(_Section):
    """The local Prometheus server that ``recstream prometheus`` runs (Debian's package)."""

    host: Literal["127.0.0.1", "localhost"] = "127.0.0.1"
    port: int = Field(9090, ge=1024, le=65535)
    config: Path = Path("deploy/prometheus/prometheus.yml")
    data_dir: Path = Path(".recstream/prometheus")
    cache_dir: Path = Path("~/.cache/recstream")
    scrape_interval_s: float = Field(5.0, ge=0.1, le=3_600)
    retention_hours: int = Field(360, ge=1, le=87_600)
    start_timeout_s: float = Field(60.0, gt=0, le=600)


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
    sequencer: SequencerSettings = Field(default_factory=SequencerSettings)
    window: WindowSettings = Field(default_factory=WindowSettings)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)
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
