"""Faust App options derived from settings, shared by the sequencer and the trainer apps."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust

from stream.settings import KafkaSettings, Settings


def _ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    if kafka.ssl_certfile:
        context.load_cert_chain(
            str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
        )
    return context


def faust_credentials(kafka: KafkaSettings) -> Any:
    """Faust's credentials object for the configured security protocol (None: PLAINTEXT)."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(_ssl_context(kafka))
    assert kafka.sasl_password is not None  # enforced by KafkaSettings validation
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=kafka.sasl_password.get_secret_value(),
        mechanism=kafka.sasl_mechanism,
        ssl_context=_ssl_context(kafka) if kafka.security_protocol == "SASL_SSL" else None,
    )


PRODUCER_LINGER_S = 0.005


def faust_app_options(settings: Settings, data_dir: Path) -> dict[str, Any]:
    """Options every recstream Faust app shares."""
    kafka = settings.kafka
    return {
        "broker": ";".join(f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")),
        "broker_credentials": faust_credentials(kafka),
        "broker_client_id": kafka.client_id,
        "broker_session_timeout": kafka.session_timeout_s,
        "broker_heartbeat_interval": kafka.session_timeout_s / 10,
        "datadir": str(data_dir),
        "topic_partitions": settings.topics.partitions,
        "topic_replication_factor": settings.topics.replication_factor,
        # At-least-once plus idempotent consumers (dedupe by event id); exactly-once
        # has open rebalance bugs in faust-streaming (#323, #517; see DESIGN.md).
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        # aiokafka sends a produce request per ready batch; with Faust's default linger of
        # 0 a live stream's small micro-batches became one request (and socket write) per
        # few messages: 12 % of the sequencer's CPU at 1,000 events/s (py-spy). A few ms
        # lets each request carry a whole micro-batch (faust/transport/producer.py passes
        # conf.producer_linger to aiokafka's linger_ms).
        "producer_linger": PRODUCER_LINGER_S,
        # Metrics go through our own prometheus endpoint; no Faust web server to expose.
        "web_enabled": False,
    }
