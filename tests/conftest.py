"""Shared fixtures: settings for tests and one real Kafka broker per test session."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stream.broker import LocalBroker
from stream.settings import ENV_PREFIX, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_CONFIG = REPO_ROOT / "configs" / "test.yaml"
_KEEP_ENV = {"RECSTREAM_TEST_BOOTSTRAP", "RECSTREAM_SHARED_DATA"}


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment() -> Iterator[None]:
    """A developer's RECSTREAM_* variables must not change what tests see."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX) and k not in _KEEP_ENV}
    for key in saved:
        del os.environ[key]
    yield
    os.environ.update(saved)


def free_port_pair() -> int:
    """A port p such that p and p + 1 are both free on 127.0.0.1 right now."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two adjacent free ports found")


def broker_test_settings(data_dir: Path, port: int | None = None) -> Settings:
    """Test settings for a broker of our own on free ports in ``data_dir``."""
    port = port or free_port_pair()
    return load_settings(
        TEST_CONFIG,
        kafka={"bootstrap_servers": f"127.0.0.1:{port}"},
        broker={"port": port, "controller_port": port + 1, "data_dir": str(data_dir)},
    )


@contextmanager
def running_broker(workdir: Path, external: str | None) -> Iterator[Settings]:
    """Settings pointing at a running broker: ``external``, or one of our own in ``workdir``.

    Our broker is started through the same code path as `recstream broker start`
    and stopped on exit, whatever happened inside.
    """
    if external:
        yield load_settings(TEST_CONFIG, kafka={"bootstrap_servers": external})
        return
    settings = broker_test_settings(workdir)
    broker = LocalBroker.from_settings(settings)
    broker.start()
    try:
        yield settings
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One broker for the whole session: ours, or $RECSTREAM_TEST_BOOTSTRAP's."""
    workdir = tmp_path_factory.mktemp("kafka")
    with running_broker(workdir, os.environ.get("RECSTREAM_TEST_BOOTSTRAP")) as settings:
        yield settings
