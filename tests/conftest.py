"""Shared fixtures: settings for tests and one real Kafka broker per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from stream.local.sandbox import TEST_CONFIG as TEST_CONFIG
from stream.local.sandbox import running_broker
from stream.network import free_port_pair as free_port_pair
from stream.paths import REPO_ROOT as REPO_ROOT
from stream.settings import ENV_PREFIX, Settings

_KEEP_ENV = {"RECSTREAM_TEST_BOOTSTRAP", "RECSTREAM_SHARED_DATA"}


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment() -> Iterator[None]:
    """A developer's RECSTREAM_* variables must not change what tests see."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX) and k not in _KEEP_ENV}
    for key in saved:
        del os.environ[key]
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def kafka_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One broker for the whole session: ours, or $RECSTREAM_TEST_BOOTSTRAP's."""
    workdir = tmp_path_factory.mktemp("kafka")
    with running_broker(workdir, os.environ.get("RECSTREAM_TEST_BOOTSTRAP")) as settings:
        yield settings
