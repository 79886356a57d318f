"""Helpers for integration tests: per-test configs and real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from stream.metrics.scrape import Samples
from stream.metrics.scrape import metric_sum as metric_sum  # re-exported for the tests
from stream.metrics.scrape import scrape as scrape_url
from stream.settings import Settings, load_settings
from stream.topic_reader import read_topic as read_topic  # re-exported for the tests
from stream.worker_process import WorkerProcess as WorkerProcess  # re-exported for the tests
from tests.conftest import REPO_ROOT, free_port_pair


def isolated_settings(base: Settings, tmp_path: Path, prefix: str) -> tuple[Path, Settings]:
    """A config file of our own: topics, app ids, folders and ports nobody else uses."""
    data = base.model_dump(mode="json")
    data["topics"]["events"] = {action: f"{prefix}.{action}" for action in data["topics"]["events"]}
    for name in ("deadletter", "sequences", "recommendations"):
        data["topics"][name] = f"{prefix}.{name}"
    data["sequencer"]["app_id"] = f"{prefix}-sequencer"
    data["sequencer"]["data_dir"] = str(tmp_path / "sequencer")
    data["trainer"]["app_id"] = f"{prefix}-trainer"
    data["trainer"]["data_dir"] = str(tmp_path / "trainer")
    data["checkpoints"]["dir"] = str(tmp_path / "checkpoints")
    data["metrics"]["sequencer_port"] = free_port_pair()
    data["metrics"]["trainer_port"] = free_port_pair()
    path = tmp_path / f"{prefix}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, load_settings(path)


def cli(config: Path, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``recstream ARGS --config CONFIG`` to completion, as a user would."""
    command = [sys.executable, "-m", "stream.cli", *args, "--config", str(config)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout_s, env=os.environ.copy(), check=False)  # fmt: skip


def scrape(port: int) -> Samples:
    """One real HTTP scrape of /metrics: {(sample name, sorted labels): value}."""
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
