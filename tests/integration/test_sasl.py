"""Every client authenticates through settings: a broker with a SASL_PLAINTEXT listener."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.local.sandbox import broker_running
from stream.messages.sequence_batch import read_updates
from stream.settings import Settings, load_settings
from tests.conftest import TEST_CONFIG, free_port_pair
from tests.integration.processes import (
    WorkerProcess,
    cli,
    isolated_settings,
    metric_sum,
    read_topic,
    scrape,
    wait_for,
)

pytestmark = pytest.mark.integration

USER = "recstream-app"
PASSWORD = "s3cret-Zq81-never-logged"


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Our own broker whose client listener requires SASL/PLAIN (``recstream broker start``'s
    code path with broker.security_protocol SASL_PLAINTEXT)."""
    workdir = tmp_path_factory.mktemp("sasl-broker")
    port = free_port_pair()
    settings = load_settings(
        TEST_CONFIG,
        kafka={
            "bootstrap_servers": f"127.0.0.1:{port}", "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN", "sasl_username": USER, "sasl_password": PASSWORD,
        },
        broker={"port": port, "controller_port": port + 1, "data_dir": str(workdir),
                "security_protocol": "SASL_PLAINTEXT"},
    )  # fmt: skip
    with broker_running(settings):
        yield settings


def _client_config(base: Settings, tmp_path: Path, password_file: Path) -> Path:
    """A config whose password lives in a file (a mounted secret), not in the YAML."""
    path, _ = isolated_settings(base, tmp_path, "sasl")
    data = yaml.safe_load(path.read_text())
    del data["kafka"]["sasl_password"]
    data["kafka"]["sasl_password_file"] = str(password_file)
    path.write_text(yaml.safe_dump(data))
    return path


def test_authenticated_clients_run_the_sequencer_end_to_end(
    sasl_broker: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text(PASSWORD + "\n")
    config = _client_config(sasl_broker, tmp_path, secret)
    assert PASSWORD not in config.read_text()
    settings = load_settings(config)

    created = cli(config, "topics", "create")  # kafka-python admin client
    assert created.returncode == 0, created.stderr
    worker = WorkerProcess("sequencer", config, tmp_path / "sequencer.log").start()  # Faust
    try:
        producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all")
        now = time.time()
        for n in range(5):
            event = {"user_id": "ada", "item_id": f"i-{n}", "ts": now - 10 + n, "event_id": f"s{n}"}
            producer.send(settings.topics.events["view"], key=b"ada", value=orjson.dumps(event))
        producer.flush()
        producer.close()
        port = settings.metrics.sequencer_port
        wait_for(
            lambda: metric_sum(scrape(port), "recstream_sequencer_events_total",
                               outcome="accepted") >= 5
            and metric_sum(scrape(port), "recstream_sequencer_sequences_emitted_total") >= 1,
            90, "the sequencer to accept 5 events over SASL and publish", worker,
        )  # fmt: skip
        updates = [
            update
            for _key, value, _p, _o in read_topic(settings, settings.topics.sequences)
            for update in read_updates(value)
        ]
        assert updates and updates[-1].user_id == "ada"
        assert updates[-1].event_ids[-1] == "s4"
    finally:
        worker.stop()
    log = (tmp_path / "sequencer.log").read_text(errors="replace")
    assert PASSWORD not in log, "the password must never reach a log"


def test_a_wrong_password_is_one_clear_error_and_no_hang(
    sasl_broker: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("not-the-password")
    config = _client_config(sasl_broker, tmp_path, secret)
    # Long enough for many login attempts: kafka-python loses about half of the
    # broker's refusal replies (see stream/kafka/preflight.py), and only a reply names
    # the cause; the check ends at the first one it sees.
    os.environ["RECSTREAM_KAFKA__REQUEST_TIMEOUT_MS"] = "15000"
    try:
        topics = cli(config, "topics", "create", timeout_s=60)
        worker = cli(config, "worker", "sequencer", timeout_s=60)
    finally:
        del os.environ["RECSTREAM_KAFKA__REQUEST_TIMEOUT_MS"]
    for result in (topics, worker):
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"refused to authenticate user '{USER}'" in result.stderr, result.stderr
        assert "kafka.sasl_password" in result.stderr
        assert "not-the-password" not in result.stdout + result.stderr


def test_plaintext_clients_are_refused_by_the_sasl_listener(
    sasl_broker: Settings, tmp_path: Path
) -> None:
    path, _ = isolated_settings(sasl_broker, tmp_path, "plain")
    data = yaml.safe_load(path.read_text())
    data["kafka"] = {"bootstrap_servers": sasl_broker.kafka.bootstrap_servers,
                     "request_timeout_ms": 3000}  # fmt: skip
    data["broker"]["security_protocol"] = "PLAINTEXT"
    path.write_text(yaml.safe_dump(data))
    result = cli(path, "topics", "create", timeout_s=60)
    assert result.returncode == 1
    assert "did not answer with security_protocol PLAINTEXT" in result.stderr, result.stderr
