"""A sandbox to run recstream in beside anything else: free ports, a broker of its own,
and a config whose topics, groups, folders and ports nobody else uses. Tests, benchmarks
and fault runs build on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from stream.local.broker import LocalBroker
from stream.local.worker_process import WorkerProcess
from stream.metrics.scrape import Samples
from stream.metrics.scrape import scrape as scrape_url
from stream.network import free_port_pair
from stream.paths import REPO_ROOT
from stream.settings import Settings, load_settings

TEST_CONFIG = REPO_ROOT / "configs" / "test.yaml"


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
    with broker_running(broker_test_settings(workdir)) as settings:
        yield settings


@contextmanager
def broker_running(settings: Settings) -> Iterator[Settings]:
    """The local broker of ``settings``, started, and stopped on exit whatever happened."""
    broker = LocalBroker.from_settings(settings)
    broker.start()
    try:
        yield settings
    finally:
        broker.stop()


def isolated(base: Settings, prefix: str, state_dir: Path) -> Settings:
    """``base`` with topics, app ids and state folders nobody else uses: every topic and
    app id carries ``prefix`` (``<prefix>.view``, ``<prefix>.sequences``), every folder is
    under ``state_dir``. One run of the demo, a test or a benchmark never mixes with
    another's data (a second run would otherwise find the first one's windows, or restore
    its checkpoint, and learn events twice)."""
    topics = base.topics.model_copy(update={
        "events": {action: f"{prefix}.{action}" for action in base.topics.events},
        **{key: f"{prefix}.{key}"
           for key in ("deadletter", "sequences", "recommendations", "catalog")},
    })  # fmt: skip
    return base.model_copy(update={
        "topics": topics,
        "sequencer": base.sequencer.model_copy(
            update={"app_id": f"{prefix}-sequencer", "data_dir": state_dir / "sequencer"}),
        "trainer": base.trainer.model_copy(
            update={"app_id": f"{prefix}-trainer", "data_dir": state_dir / "trainer"}),
        "checkpoints": base.checkpoints.model_copy(update={"dir": state_dir / "checkpoints"}),
    })  # fmt: skip


def isolated_settings(base: Settings, tmp_path: Path, prefix: str) -> tuple[Path, Settings]:
    """:func:`isolated` settings with metrics ports of their own, written to a config file
    the workers read: (its path, the settings)."""
    (tmp_path / prefix).mkdir(parents=True, exist_ok=True)
    settings = isolated(base, prefix, tmp_path / prefix)
    metrics = settings.metrics.model_copy(
        update={"sequencer_port": free_port_pair(), "trainer_port": free_port_pair()}
    )
    path = tmp_path / f"{prefix}.yaml"
    path.write_text(
        yaml.safe_dump(settings.model_copy(update={"metrics": metrics}).model_dump(mode="json"))
    )
    return path, load_settings(path)


def scrape(port: int) -> Samples:
    """One real HTTP scrape of a local worker's /metrics: {(name, sorted labels): value}."""
    return scrape_url(f"http://127.0.0.1:{port}/metrics")


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, worker: WorkerProcess | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # endpoint not up yet
        if worker is not None and not worker.alive():
            raise AssertionError(
                f"{worker.role} exited while waiting for {what}:\n{worker.log_tail()}"
            )
        time.sleep(0.5)
    tail = f"\n{worker.log_tail()}" if worker is not None else ""
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}{tail}")
