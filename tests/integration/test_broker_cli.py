"""`recstream broker start|stop|status` as a user runs them, in real processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.conftest import REPO_ROOT, free_port_pair

pytestmark = pytest.mark.integration


def _recstream(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stream.cli", *args, "--config", "configs/test.yaml"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture
def broker_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port_pair()
    env = {
        **os.environ,
        "RECSTREAM_BROKER__PORT": str(port),
        "RECSTREAM_BROKER__CONTROLLER_PORT": str(port + 1),
        "RECSTREAM_BROKER__DATA_DIR": str(tmp_path / "broker"),
        "RECSTREAM_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
    }
    yield env
    _recstream(env, "broker", "stop")  # never leave a broker behind, even on failure


def test_start_is_idempotent_and_data_survives_stop_and_start(
    broker_env: dict[str, str], tmp_path: Path
) -> None:
    bootstrap = broker_env["RECSTREAM_KAFKA__BOOTSTRAP_SERVERS"]
    first = _recstream(broker_env, "broker", "start")
    assert first.returncode == 0, first.stderr
    assert f"broker started on {bootstrap}" in first.stdout
    assert "broker.log" in first.stdout

    again = _recstream(broker_env, "broker", "start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout

    status = _recstream(broker_env, "broker", "status")
    assert status.returncode == 0
    assert f"running on {bootstrap}" in status.stdout

    assert _recstream(broker_env, "topics", "create").returncode == 0
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for n in range(500):
        producer.send("events.view", key=f"u{n % 7}".encode(), value=f"event-{n}".encode())
    producer.flush()
    producer.close()

    stopped = _recstream(broker_env, "broker", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    down = _recstream(broker_env, "broker", "status")
    assert down.returncode == 3
    assert "not running" in down.stdout

    # The jars are cached now: a start needs Java but neither Maven nor the network.
    java = shutil.which("java")
    assert java is not None
    java_only = tmp_path / "java-only"
    java_only.mkdir()
    (java_only / "java").symlink_to(java)
    restarted = _recstream({**broker_env, "PATH": str(java_only)}, "broker", "start")
    assert restarted.returncode == 0, restarted.stderr
    consumer = KafkaConsumer(
        "events.view", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        group_id=None, consumer_timeout_ms=15_000,
    )  # fmt: skip
    values = sorted(int(record.value.decode().split("-")[1]) for record in consumer)
    consumer.close()
    assert values == list(range(500))


def test_start_on_a_busy_port_fails_with_one_line(broker_env: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(broker_env["RECSTREAM_BROKER__PORT"])))
        holder.listen()
        result = _recstream(broker_env, "broker", "start")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("broker error: port 127.0.0.1:")
    assert "already in use" in lines[0]
