"""The local broker manager's checks that need no running broker."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import stat
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from stream.local.broker import BrokerError, LocalBroker, kafka_version, new_cluster_id
from stream.local.sandbox import broker_test_settings


def _bin_dir(tmp_path: Path, tools: dict[str, str]) -> str:
    """A PATH holding only the given tools (name -> script body or a real path to link)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in tools.items():
        target = bin_dir / name
        if body.startswith("/"):
            target.symlink_to(body)
        else:
            target.write_text(f"#!/bin/sh\n{body}\n")
            target.chmod(target.stat().st_mode | stat.S_IEXEC)
    return str(bin_dir)


def test_kafka_version_comes_from_the_pom() -> None:
    assert kafka_version().startswith("4.0.")


def test_status_without_a_pid_file_is_not_running(tmp_path: Path) -> None:
    broker = LocalBroker(broker_test_settings(tmp_path / "data").broker)
    status = broker.status()
    assert not status.running
    assert status.pid is None
    assert not broker.stop()


def test_a_stale_pid_file_is_not_a_running_broker(tmp_path: Path) -> None:
    broker = LocalBroker(broker_test_settings(tmp_path / "data").broker)
    broker.data_dir.mkdir(parents=True)
    # Our own pid is alive but is not a Kafka broker.
    broker.pid_file.write_text(str(os.getpid()))
    assert not broker.status().running


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, {}))
    broker = LocalBroker(broker_test_settings(tmp_path / "data").broker)
    with pytest.raises(BrokerError, match="'java' not found on PATH"):
        broker.start()


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    settings = broker_test_settings(tmp_path / "data")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.broker.port))
        holder.listen()
        with pytest.raises(BrokerError, match=f"port 127.0.0.1:{settings.broker.port} is already"):
            LocalBroker(settings.broker).start()


def _uncached_broker(tmp_path: Path) -> LocalBroker:
    settings = broker_test_settings(tmp_path / "data")
    broker_settings = settings.broker.model_copy(update={"cache_dir": tmp_path / "empty-cache"})
    return LocalBroker(broker_settings)


def test_missing_maven_is_a_clear_error_when_jars_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = shutil.which("java")
    assert java is not None, "the test machine has Java (the broker needs it)"
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, {"java": java}))
    with pytest.raises(BrokerError, match="'mvn' not found on PATH"):
        _uncached_broker(tmp_path).start()


def test_failed_download_is_a_clear_error_and_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_mvn = "echo 'Could not resolve dependencies: network unreachable'; exit 1"
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, {"mvn": failing_mvn}))
    broker = _uncached_broker(tmp_path)
    with pytest.raises(BrokerError, match=r"failed \(exit 1\): Could not resolve dependencies"):
        broker.fetch_jars()
    assert not broker.jars_cached()
    assert not list((tmp_path / "empty-cache").glob("*"))


def test_cluster_ids_never_look_like_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    # uuid4 bytes whose base64 starts with "-" (0xf8..: 62 in the URL-safe alphabet is "-"),
    # then ordinary ones: the generator must skip the first.
    draws = iter([uuid.UUID(bytes=b"\xf8" + b"\x00" * 15), uuid.UUID(int=42)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    cluster_id = new_cluster_id()
    assert not cluster_id.startswith("-")
    assert base64.urlsafe_b64decode(cluster_id + "==") == uuid.UUID(int=42).bytes


def test_a_sasl_broker_renders_a_private_config_with_one_plain_user(tmp_path: Path) -> None:
    settings = broker_test_settings(tmp_path / "data")
    kafka = settings.kafka.model_copy(
        update={"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                "sasl_username": "ada", "sasl_password": SecretStr("pw-1")}
    )  # fmt: skip
    broker_settings = settings.broker.model_copy(update={"security_protocol": "SASL_PLAINTEXT"})
    broker = LocalBroker(broker_settings, kafka)
    broker.data_dir.mkdir(parents=True)
    config = broker._render_config()
    text = config.read_text()
    assert f"listeners=SASL_PLAINTEXT://127.0.0.1:{broker_settings.port}," in text
    assert "inter.broker.listener.name=SASL_PLAINTEXT" in text
    assert 'username="ada" password="pw-1" user_ada="pw-1";' in text
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it holds the password


def test_a_sasl_broker_without_credentials_is_a_clear_error(tmp_path: Path) -> None:
    settings = broker_test_settings(tmp_path / "data")
    broker_settings = settings.broker.model_copy(update={"security_protocol": "SASL_PLAINTEXT"})
    with pytest.raises(BrokerError, match=r"needs kafka\.sasl_username"):
        LocalBroker(broker_settings, settings.kafka)
